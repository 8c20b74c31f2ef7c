// Connections to one Redis for many threads at once: blocking reads (a worker waiting for a
// job, a stream waiting for events) hold a connection each, so one shared connection would
// make every other command wait behind them. A lease returns its connection to the pool when
// it goes; at most `max_connections` exist, and a thread beyond that waits for one.
#ifndef FLX_PLUGINS_QUEUE_REDIS_REDIS_CLIENT_POOL_H_
#define FLX_PLUGINS_QUEUE_REDIS_REDIS_CLIENT_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "redis_client.h"

namespace flx::redis {

class RedisClientPool {
 public:
  class Lease {
   public:
    Lease(RedisClientPool* pool, std::unique_ptr<RedisClient> client)
        : pool_(pool), client_(std::move(client)) {}
    ~Lease() { pool_->Return(std::move(client_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    RedisClient& operator*() { return *client_; }
    RedisClient* operator->() { return client_.get(); }

   private:
    RedisClientPool* pool_;
    std::unique_ptr<RedisClient> client_;
  };

  // `timeout_s` bounds connecting and each reply of a connection (blocking reads add their
  // own wait to it); `max_connections` >= 1.
  RedisClientPool(RedisUrl url, double timeout_s, size_t max_connections);

  // An idle connection, a new one while fewer than max_connections exist, else waits.
  Lease Acquire();
  const RedisUrl& url() const { return url_; }

 private:
  void Return(std::unique_ptr<RedisClient> client);

  const RedisUrl url_;
  const double timeout_s_;
  const size_t max_connections_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<RedisClient>> idle_;
  size_t created_ = 0;
};

}  // namespace flx::redis

#endif  // FLX_PLUGINS_QUEUE_REDIS_REDIS_CLIENT_POOL_H_
