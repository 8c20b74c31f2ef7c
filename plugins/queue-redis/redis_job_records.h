// What every replica must see of a job (issue 14), kept in Redis: its record (a hash
// "<prefix>:job:<id>": status, model, progress, timestamps, the cancel request, and in the end
// the response or the error) and its event stream ("<prefix>:events:<id>", the SSE events of
// event_stream.h, so GET .../{id}/events can replay and follow a job run by another replica).
// Ended jobs expire after result_ttl_s; a tombstone outlives them (5 x result_ttl_s) so a late
// poll hears "expired" rather than "no such job".
#ifndef FLX_PLUGINS_QUEUE_REDIS_REDIS_JOB_RECORDS_H_
#define FLX_PLUGINS_QUEUE_REDIS_REDIS_JOB_RECORDS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "redis_client.h"

namespace flx::redis {

struct RecordSettings {
  std::string prefix = "fluxserve";
  double result_ttl_s = 3600;
  long long max_events = 4096;  // per job, oldest trimmed first (XADD MAXLEN ~)
};

// A job's fields as strings (the hash as it is): "status", "model", "step", "steps",
// "created_at", "started_at", "finished_at", "cancel_requested", "response", "error",
// "error_status", "replica", ...
using JobFields = std::map<std::string, std::string>;

struct StoredEvent {
  std::string id;  // the stream entry: pass it back to read what follows
  std::string name;
  std::string data;
};

enum class CancelOutcome { kRequested, kAlreadyEnded, kNotFound };

class RedisJobRecords {
 public:
  RedisJobRecords(RedisClient& client, RecordSettings settings);

  // A new record (status "queued"), kept until the job ends; false (and nothing written) when
  // a record of that id exists.
  bool Create(const std::string& id, const JobFields& fields);
  // Deletes a record and its events (a submission that could not be queued).
  void Remove(const std::string& id);
  // Sets fields of a live record (progress, status "running", the replica).
  void Update(const std::string& id, const JobFields& fields);
  // The final fields (status and response or error), then `last_event` (when not empty, data
  // "{}") for readers of the events to learn the end; record and events expire after
  // result_ttl_s from now.
  void End(const std::string& id, const JobFields& fields, const std::string& last_event = "");
  // The record, or nullopt; `expired` tells an ended-and-forgotten job from an unknown one.
  std::optional<JobFields> Get(const std::string& id, bool* expired = nullptr);
  // Marks a job that has not ended as to be cancelled (atomically against End).
  CancelOutcome RequestCancel(const std::string& id);

  void AppendEvent(const std::string& id, const std::string& name, const std::string& data);
  // The events after `after` ("0" for all), waiting up to `block_ms` when there are none yet.
  std::vector<StoredEvent> ReadEvents(const std::string& id, const std::string& after,
                                      int block_ms);

  std::string RecordKey(const std::string& id) const;
  std::string EventsKey(const std::string& id) const;

 private:
  std::string TombstoneKey(const std::string& id) const;
  void SetFields(const std::string& id, const JobFields& fields);

  RedisClient& client_;
  const RecordSettings settings_;
};

}  // namespace flx::redis

#endif  // FLX_PLUGINS_QUEUE_REDIS_REDIS_JOB_RECORDS_H_
