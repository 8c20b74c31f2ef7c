// One background generation (POST /v1/images/generations with "background": true): its
// status, step progress, timestamps, and in the end the response body or the error. The
// host's job store owns jobs; a job's worker thread, the event path and the HTTP handlers
// share it, so every accessor is thread-safe.
#ifndef FLX_HOST_JOBS_JOB_H_
#define FLX_HOST_JOBS_JOB_H_

#include <flx/flx.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "host_api.h"
#include "jobs/run_times.h"

namespace flx {

enum class JobStatus { kQueued, kRunning, kSucceeded, kFailed, kCancelled };

// "queued", "running", "succeeded", "failed", "cancelled".
const char* JobStatusName(JobStatus status);
// The status a name spells, or nullopt.
std::optional<JobStatus> ParseJobStatus(const std::string& name);
bool IsFinal(JobStatus status);

// Seconds since the Unix epoch, as the job's timestamps are kept.
double UnixNow();

// Whether a preview is due after `step` of `total` when `partial_images` are asked for: they
// are spread evenly over the steps before the last (the last step's image is the result),
// so a short run may give fewer.
bool PreviewDue(uint32_t step, uint32_t total, uint32_t partial_images);

// One server-sent event of a job's stream: its name and its JSON data.
struct FeedEvent {
  std::string name;
  std::string data;
};

// A consistent copy of a job's state.
struct JobSnapshot {
  std::string id;
  std::string model;
  JobStatus status = JobStatus::kQueued;
  uint32_t step = 0;        // steps finished in the current try
  uint32_t steps = 0;       // steps of the current try; 0 until the pipeline reports one
  double step_seconds = 0;  // the current try's steps so far, summed
  double created_at = 0;
  std::optional<double> started_at;   // the first pipeline try
  std::optional<double> finished_at;  // succeeded, failed or cancelled
  bool cancel_requested = false;
  bool waiting_for_model = false;  // queued: admitted, waiting for its lazy model to load
  // Final states: the images response body (succeeded), or the error envelope's status and
  // JSON (failed, cancelled).
  std::string response_json;
  int error_status = 0;
  std::string error_json;
  size_t result_bytes = 0;  // what the job keeps: its stream events and its response or error
};

class Job {
 public:
  // `shape`: the model and what the request asked (for eta_seconds).
  Job(std::string id, RunShape shape, double created_at);

  const std::string& id() const { return id_; }
  const std::string& model() const { return shape_.model; }
  const RunShape& shape() const { return shape_; }
  // The call the generation runs under: request id = job id, cancellation, progress events.
  flx_call& call() { return call_; }

  // Progress from the call's events: STARTED makes it running (and starts a new try's step
  // count), STEP advances it; QUEUED, ADMITTED and STARTED place it (see WaitPlaced).
  void Observe(const flx_event& event);
  // Ends the job; the first end wins, later ones are ignored.
  void Succeed(std::string response_json);
  void Fail(JobStatus status, int http_status, std::string error_json);
  // Streams: appends an event (progress, a partial image) for subscribers; ignored once the
  // job has ended.
  void AddFeedEvent(FeedEvent event);
  // Copies the events from index `next` on into `out`; when there are none, waits up to
  // `seconds` for one or for the end. Returns whether the job has ended (after the events).
  bool ReadFeed(size_t next, std::vector<FeedEvent>* out, double seconds);
  // The index of the next partial image, or nullopt when `limit` were already sent.
  std::optional<uint32_t> TakePreviewIndex(uint32_t limit);

  // Asks a queued or running job to stop (its call is cancelled; it ends `cancelled` when the
  // pipeline notices, at the next step). False when the job has already ended.
  bool RequestCancel();

  // Blocks until the job has a place (it is queued, admitted, started or ended) or `seconds`
  // pass; true when placed.
  bool WaitPlaced(double seconds);
  // Blocks until the job has ended or `seconds` pass; true when it has ended.
  bool WaitEnded(double seconds);
  // `with_result` false leaves response_json and error_json empty (listings).
  JobSnapshot Snapshot(bool with_result = true) const;
  // The time it ended, or nullopt while it runs.
  std::optional<double> FinishedAt() const;

 private:
  void EndLocked(JobStatus status);

  const std::string id_;
  const RunShape shape_;
  flx_call call_;
  mutable std::mutex mutex_;
  std::condition_variable placed_cv_;
  bool placed_ = false;
  JobSnapshot state_;
  std::vector<FeedEvent> feed_;
  uint32_t previews_sent_ = 0;
};

}  // namespace flx

#endif  // FLX_HOST_JOBS_JOB_H_
