// The `config:` of a `redis` queue stage (kind: queue), read and checked in one pass:
//
//   key              default                  meaning
//   url              (required)               redis://[[user]:password@]host[:port][/db]
//   password_env     FLUX_REDIS_PASSWORD      the environment variable holding the password
//                                             (when set and not empty it wins over the URL's)
//   prefix           fluxserve                the first part of every key ([A-Za-z0-9_:.-])
//   claim_after_s    60                       a job whose replica went silent this long is
//                                             taken over by another replica (>= 3: the host
//                                             reports running jobs every second)
//   max_deliveries   3                        deliveries after which a job fails (dead letter)
//   result_ttl_s     3600                     how long an ended job's record and events stay
//   max_queued       1000                     jobs waiting per model before submit() is 429;
//                                             0 = no limit
//   timeout_s        5                        connecting and each reply
//   max_connections  64                       connections to Redis at most (>= 4)
//   replica          <hostname>-<pid>         this replica's consumer name ("" = the default)
#ifndef FLX_PLUGINS_QUEUE_REDIS_REDIS_QUEUE_SETTINGS_H_
#define FLX_PLUGINS_QUEUE_REDIS_REDIS_QUEUE_SETTINGS_H_

#include <cstddef>
#include <flx/plugin.hpp>
#include <functional>
#include <optional>
#include <string>

#include "redis_job_queue.h"
#include "redis_job_records.h"
#include "redis_url.h"

namespace flx::redis {

struct RedisQueueSettings {
  RedisUrl url;
  std::string password_env = "FLUX_REDIS_PASSWORD";
  QueueSettings queue;     // prefix, claim_after_s, max_deliveries
  RecordSettings records;  // prefix, result_ttl_s
  size_t max_queued = 1000;
  double timeout_s = 5;
  size_t max_connections = 64;
  std::string replica;
};

// Reads the settings; `getenv` looks up password_env (std::getenv in the plugin, a map in
// tests). Throws one flx::Error (INVALID_ARGUMENT) listing every bad key.
RedisQueueSettings ReadRedisQueueSettings(
    const flx::Config& config,
    const std::function<std::optional<std::string>(const std::string&)>& getenv);

// "<hostname>-<pid>": a replica's default name, unique among live processes.
std::string DefaultReplicaName();

}  // namespace flx::redis

#endif  // FLX_PLUGINS_QUEUE_REDIS_REDIS_QUEUE_SETTINGS_H_
