// The job queue of several fluxserve replicas on Redis Streams (issue 14): one stream per model
// ("<prefix>:jobs:<model>") read by one consumer group ("workers"), so each job goes to exactly
// one replica; a replica that dies leaves its job pending, and another takes it over once it
// has been idle claim_after_s (XAUTOCLAIM); a job delivered more than max_deliveries times goes
// to "<prefix>:dead:<model>" instead of running again. Entries are deleted once done, so the
// stream holds only what is waiting or running.
#ifndef FLX_PLUGINS_QUEUE_REDIS_REDIS_JOB_QUEUE_H_
#define FLX_PLUGINS_QUEUE_REDIS_REDIS_JOB_QUEUE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "redis_client.h"

namespace flx::redis {

struct QueueSettings {
  std::string prefix = "fluxserve";
  double claim_after_s = 60;  // a pending job idle this long is taken over by another replica
  int max_deliveries = 3;     // more and the job is dead-lettered
};

struct QueuedJob {
  std::string model;
  std::string entry_id;  // the stream entry
  std::string job_id;
  std::string payload;
  int deliveries = 1;  // 1 the first time a replica takes it
};

class RedisJobQueue {
 public:
  // `client` must outlive the queue.
  RedisJobQueue(RedisClient& client, QueueSettings settings);

  // Adds a job for `model`; returns its stream entry id. Throws RedisUnavailable.
  std::string Enqueue(const std::string& model, const std::string& job_id,
                      const std::string& payload);
  // The next job of `model` for `consumer` (a replica's name): one another consumer left idle
  // past claim_after_s first, else a new one, waiting up to `block_ms` for it. Jobs past
  // max_deliveries are moved to the dead-letter stream on the way (with `why` "delivered N
  // times") and appended to `dead` when given.
  std::optional<QueuedJob> Claim(const std::string& model, const std::string& consumer,
                                 int block_ms, std::vector<QueuedJob>* dead = nullptr);
  // A job is finished (whatever its outcome): acknowledged and removed from the stream.
  void Complete(const QueuedJob& job);
  // `consumer` still runs `job`: its idle time restarts, so no one takes it over yet.
  void Touch(const QueuedJob& job, const std::string& consumer);
  // Jobs of `model` not yet taken by any replica that were queued before `entry_id`.
  size_t Ahead(const std::string& model, const std::string& entry_id);
  // Jobs of `model` not yet taken by any replica.
  size_t Waiting(const std::string& model);
  // Jobs of `model` in the dead-letter stream.
  size_t DeadLettered(const std::string& model);

  std::string StreamKey(const std::string& model) const;
  std::string DeadKey(const std::string& model) const;

 private:
  void EnsureGroup(const std::string& model);
  std::optional<QueuedJob> Reclaim(const std::string& model, const std::string& consumer,
                                   std::vector<QueuedJob>* dead);
  std::optional<QueuedJob> ReadNew(const std::string& model, const std::string& consumer,
                                   int block_ms);
  int Deliveries(const std::string& model, const std::string& entry_id);
  void DeadLetter(const QueuedJob& job, const std::string& why);
  std::string LastDelivered(const std::string& model);

  RedisClient& client_;
  const QueueSettings settings_;
};

}  // namespace flx::redis

#endif  // FLX_PLUGINS_QUEUE_REDIS_REDIS_JOB_QUEUE_H_
