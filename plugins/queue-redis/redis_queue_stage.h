// The `redis` queue stage (kind: queue, ABI 1.3): jobs shared by every replica that names the
// same Redis and prefix. Keys, with P the prefix:
//   P:jobs:<model>   a stream per model: the jobs waiting or running (consumer group "workers")
//   P:dead:<model>   jobs delivered more than max_deliveries times
//   P:job:<id>       a job's record (a hash of the flx_queue_iface members), kept result_ttl_s
//                    after it ends; P:gone:<id> remembers an expired one
//   P:events:<id>    a job's server-sent events
//   P:index          every job id by creation time, for listings (newest 10000)
// Redis errors that mean "cannot reach it" become FLX_UNAVAILABLE naming the URL.
#ifndef FLX_PLUGINS_QUEUE_REDIS_REDIS_QUEUE_STAGE_H_
#define FLX_PLUGINS_QUEUE_REDIS_REDIS_QUEUE_STAGE_H_

#include <flx/plugin.hpp>
#include <map>
#include <mutex>
#include <string>

#include "redis_client_pool.h"
#include "redis_job_queue.h"
#include "redis_job_records.h"
#include "redis_queue_settings.h"

namespace flx::redis {

class RedisQueueStage : public flx::Queue {
 public:
  explicit RedisQueueStage(const flx::StageContext& context);
  RedisQueueStage(RedisQueueSettings settings, flx::Host host);

  void submit(const std::string& job_id, const std::string& model, const Fields& record,
              const std::string& payload) override;
  std::string get(const std::string& job_id) override;
  std::string list(const std::string& status, uint32_t limit) override;
  void cancel(const std::string& job_id) override;
  void append_event(const std::string& job_id, const std::string& name,
                    const std::string& data) override;
  std::string read_events(const std::string& job_id, const std::string& after,
                          uint32_t wait_ms) override;
  std::string claim(const std::string& model, uint32_t wait_ms) override;
  bool update(const std::string& job_id, const Fields& fields) override;
  void finish(const std::string& job_id, const Fields& fields) override;
  void check() override;
  std::string describe() override;

 private:
  // Runs `work` with a pooled connection; "cannot reach Redis" becomes FLX_UNAVAILABLE.
  template <class Work>
  auto WithRedis(Work&& work);
  std::string IndexKey() const;
  // The FLX_GAUGE_SHARED_QUEUE_WAITING gauge of `model` (for autoscaling on queue length).
  void ReportWaiting(const std::string& model, size_t waiting) const;
  // A blocking read's wait, kept under the reply timeout.
  int BlockMs(uint32_t wait_ms) const;
  // Ends a job that was delivered too often, as failed.
  void EndDeadLettered(RedisJobRecords& records, const QueuedJob& job);

  const RedisQueueSettings settings_;
  flx::Host host_;
  RedisClientPool pool_;
  std::mutex claimed_mutex_;
  std::map<std::string, QueuedJob> claimed_;  // by job id: the jobs this replica runs
};

}  // namespace flx::redis

#endif  // FLX_PLUGINS_QUEUE_REDIS_REDIS_QUEUE_STAGE_H_
