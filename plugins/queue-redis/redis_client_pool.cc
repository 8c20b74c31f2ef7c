#include "redis_client_pool.h"

#include <utility>

namespace flx::redis {

RedisClientPool::RedisClientPool(RedisUrl url, double timeout_s, size_t max_connections)
    : url_(std::move(url)), timeout_s_(timeout_s), max_connections_(max_connections) {}

RedisClientPool::Lease RedisClientPool::Acquire() {
  std::unique_lock<std::mutex> lock(mutex_);
  returned_.wait(lock, [this] { return !idle_.empty() || created_ < max_connections_; });
  if (!idle_.empty()) {
    std::unique_ptr<RedisClient> client = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(client));
  }
  ++created_;
  lock.unlock();
  // Connects lazily, on its first command, outside the lock.
  return Lease(this, std::make_unique<RedisClient>(url_, timeout_s_));
}

void RedisClientPool::Return(std::unique_ptr<RedisClient> client) {
  if (!client) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(client));
  }
  returned_.notify_one();
}

}  // namespace flx::redis
