// redis://[[user]:password@]host[:port][/db] as Redis clients spell it (the `url:` of the redis
// queue stage). Parsed without a network: the connection is redis_client.h's.
#ifndef FLX_PLUGINS_QUEUE_REDIS_REDIS_URL_H_
#define FLX_PLUGINS_QUEUE_REDIS_REDIS_URL_H_

#include <optional>
#include <string>

namespace flx::redis {

struct RedisUrl {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string user;                     // "" = the default user
  std::optional<std::string> password;  // from the URL; a stage may take it from the environment
  // "redis://host:port/db", the password never shown: for logs and error messages.
  std::string Display() const;
};

// The URL, or nullopt with `why` saying what is wrong ("expected redis://", "port 0 is not in
// 1..65535", ...).
std::optional<RedisUrl> ParseRedisUrl(const std::string& text, std::string* why);

}  // namespace flx::redis

#endif  // FLX_PLUGINS_QUEUE_REDIS_REDIS_URL_H_
