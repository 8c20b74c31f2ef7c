// One connection to Redis (hiredis), safe to share between threads (commands take turns), that
// reconnects by itself: a command that finds the connection lost reconnects once and retries
// when it can, so a Redis restart costs the callers of that moment an UNAVAILABLE, not the
// process. Error replies (WRONGTYPE, NOGROUP, ...) are replies, not failures, except LOADING
// (a restarted Redis reading its data back), which is UNAVAILABLE too.
#ifndef FLX_PLUGINS_QUEUE_REDIS_REDIS_CLIENT_H_
#define FLX_PLUGINS_QUEUE_REDIS_REDIS_CLIENT_H_

#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "redis_url.h"

struct redisContext;

namespace flx::redis {

struct RedisReply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string text;  // kString, kStatus, kError
  long long integer = 0;
  std::vector<RedisReply> elements;  // kArray

  bool IsError() const { return type == Type::kError; }
  bool IsNil() const { return type == Type::kNil; }
};

// Redis cannot be reached (refused, timed out, connection lost twice); what() names the URL
// (without the password) and hiredis' reason.
class RedisUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RedisClient {
 public:
  // Connects lazily, on the first command. `timeout_s` bounds connecting and each reply.
  RedisClient(RedisUrl url, double timeout_s);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Runs one command (each argument binary-safe). Throws RedisUnavailable when Redis cannot be
  // reached even after one reconnect.
  RedisReply Command(const std::vector<std::string>& argv);
  const RedisUrl& url() const { return url_; }

 private:
  // Connects, authenticates and selects the database; throws RedisUnavailable. Requires mutex_.
  void ConnectLocked();
  void DropLocked();
  // One round trip on the current connection; false when the connection broke.
  bool TryLocked(const std::vector<std::string>& argv, RedisReply* reply);

  const RedisUrl url_;
  const double timeout_s_;
  std::mutex mutex_;
  redisContext* context_ = nullptr;
};

}  // namespace flx::redis

#endif  // FLX_PLUGINS_QUEUE_REDIS_REDIS_CLIENT_H_
