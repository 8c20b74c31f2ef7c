// The flx_queue_redis plugin: binds RedisQueueStage to the queue ABI (1.3) as type `redis`.
#include <flx/plugin.hpp>

#include "redis_queue_stage.h"

namespace {

// The operator settings the host can take from the environment.
const flx_setting kSettings[] = {
    flx::setting("url", FLX_SETTING_STRING, "FLUX_REDIS_URL", nullptr, "URL",
                 "the Redis that replicas share jobs through, redis://host:port/db"),
    flx::setting("prefix", FLX_SETTING_STRING, "FLUX_REDIS_PREFIX", nullptr, "P",
                 "the first part of every Redis key (one queue per prefix)"),
    flx::setting("replica", FLX_SETTING_STRING, "FLUX_REPLICA_NAME", nullptr, "NAME",
                 "this replica's name in the queue (default hostname-pid)"),
};

}  // namespace

FLX_PLUGIN("flx_queue_redis", "1.0.0",
           flx::queue_factory<flx::redis::RedisQueueStage>("redis", "1.0.0", FLX_FLAG_THREADSAFE,
                                                           flx::settings(kSettings)))
