// A job as the shared queue keeps it (a record of string members, flx_queue_iface) and as the
// host renders it (JobSnapshot, RunShape): the conversions both ways. The front writes the
// first members, the worker the progress and the end; any replica reads them back.
#ifndef FLX_HOST_JOBS_SHARED_JOB_RECORD_H_
#define FLX_HOST_JOBS_SHARED_JOB_RECORD_H_

#include <optional>
#include <string>

#include "jobs/job.h"
#include "jobs/run_times.h"
#include "jobs/shared_queue.h"

namespace flx {

// What the front writes at submission: id, model, status "queued", created_at and the shape
// (width, height, steps_requested, n; for eta_seconds anywhere).
QueueFields SubmittedRecord(const std::string& id, const RunShape& shape, double created_at);
// A running job's progress: status, step, steps, step_seconds, started_at.
QueueFields ProgressRecord(const JobSnapshot& snapshot);
// An ended job's final members: status, finished_at, step, steps, and response or error and
// error_status.
QueueFields FinalRecord(const JobSnapshot& snapshot);

// The snapshot a record describes (missing members read as their defaults).
JobSnapshot SnapshotFromRecord(const QueueRecord& record);
RunShape ShapeFromRecord(const QueueRecord& record);
// The job's queue_position as clients read it (1 = the next to run), from the record's
// queue_position (the queue's count of jobs ahead), while it waits.
std::optional<size_t> QueuePositionFromRecord(const QueueRecord& record);

}  // namespace flx

#endif  // FLX_HOST_JOBS_SHARED_JOB_RECORD_H_
