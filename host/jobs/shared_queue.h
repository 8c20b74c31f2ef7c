// The graph's queue stage (`job_queue:`, flx_queue_iface) as the host calls it: one
// Status-returning function per interface function, records and event lists parsed from the
// stage's JSON. See flx.h for what each does; this file adds only the C++ types.
#ifndef FLX_HOST_JOBS_SHARED_QUEUE_H_
#define FLX_HOST_JOBS_SHARED_QUEUE_H_

#include <flx/flx.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stage_graph.h"
#include "status.h"

namespace flx {

// A job's record: its string members (flx_queue_iface lists them).
using QueueRecord = std::map<std::string, std::string>;
using QueueFields = std::vector<std::pair<std::string, std::string>>;

struct QueueEvent {
  std::string id;  // pass it back to read what follows
  std::string name;
  std::string data;
};

struct ClaimedJob {
  std::string job_id;
  std::string payload;
  int deliveries = 1;
};

// What a failed call said besides its status: the details the host acts on.
struct QueueFailure {
  bool expired = false;        // NOT_FOUND of a job that ended and was forgotten
  std::string retry_after_ms;  // RESOURCE_EXHAUSTED: when to try again
};

// The event the queue appends once a job's record has ended.
constexpr const char* kQueueEndedEvent = FLX_QUEUE_ENDED_EVENT;

class SharedQueue {
 public:
  // `stage` is a queue stage of the graph and outlives this object.
  explicit SharedQueue(StageInstance* stage);

  Status Submit(const std::string& job_id, const std::string& model, const QueueFields& record,
                const std::string& payload, QueueFailure* failure = nullptr);
  StatusOr<QueueRecord> Get(const std::string& job_id, QueueFailure* failure = nullptr);
  // Newest first; `status` "" = all.
  StatusOr<std::vector<QueueRecord>> List(const std::string& status, uint32_t limit);
  Status Cancel(const std::string& job_id, QueueFailure* failure = nullptr);
  Status AppendEvent(const std::string& job_id, const std::string& name, const std::string& data);
  StatusOr<std::vector<QueueEvent>> ReadEvents(const std::string& job_id, const std::string& after,
                                               uint32_t wait_ms);
  // nullopt when no job came within `wait_ms`.
  StatusOr<std::optional<ClaimedJob>> Claim(const std::string& model, uint32_t wait_ms);
  // Returns whether the job was asked to stop.
  StatusOr<bool> Update(const std::string& job_id, const QueueFields& fields);
  Status Finish(const std::string& job_id, const QueueFields& fields);
  Status Check();
  // The queue's active settings as JSON ("{}" when it cannot say), for the start-up log.
  std::string Describe();
  const std::string& stage_id() const { return stage_->id; }

 private:
  Status Consume(flx_error* error, QueueFailure* failure);
  const flx_queue_iface& iface() const { return *stage_->queue(); }

  StageInstance* stage_;
};

// The members of `fields` as the ABI's key/value pairs (borrowing the strings).
std::vector<flx_kv> AsKeyValues(const QueueFields& fields);

}  // namespace flx

#endif  // FLX_HOST_JOBS_SHARED_QUEUE_H_
