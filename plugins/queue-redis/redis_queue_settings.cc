#include "redis_queue_settings.h"

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace flx::redis {
namespace {

bool IsKeyPart(const std::string& text) {
  if (text.empty() || text.size() > 64) return false;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == ':' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Reads keys one by one and keeps every problem, so a config is fixed in one pass.
class SettingReader {
 public:
  explicit SettingReader(const flx::Config& config) : config_(config) {}

  std::optional<std::string> String(const char* key) {
    try {
      return config_.string(key);
    } catch (const flx::Error& e) {
      errors_.push_back(e.what());
      return std::nullopt;
    }
  }

  int64_t Integer(const char* key, int64_t fallback, int64_t min, int64_t max) {
    try {
      const std::optional<int64_t> value = config_.integer(key);
      if (!value) return fallback;
      if (*value < min || *value > max) {
        Fail(std::string(key) + " must be between " + std::to_string(min) + " and " +
             std::to_string(max) + ", got " + std::to_string(*value));
        return fallback;
      }
      return *value;
    } catch (const flx::Error& e) {
      errors_.push_back(e.what());
      return fallback;
    }
  }

  // A finite number in [min, max].
  double Positive(const char* key, double fallback, double max, double min = 0.001) {
    try {
      const std::optional<double> value = config_.number(key);
      if (!value) return fallback;
      if (!std::isfinite(*value) || *value < min || *value > max) {
        Fail(std::string(key) + " must be between " + Format(min) + " and " + Format(max) +
             ", got " + Format(*value));
        return fallback;
      }
      return *value;
    } catch (const flx::Error& e) {
      errors_.push_back(e.what());
      return fallback;
    }
  }

  static std::string Format(double value) {
    char text[32];
    std::snprintf(text, sizeof(text), "%g", value);
    return text;
  }

  void Fail(const std::string& message) { errors_.push_back(config_.error(message).what()); }
  void ThrowIfAnyError() const { flx::throw_config_errors(errors_); }

 private:
  const flx::Config& config_;
  std::vector<std::string> errors_;
};

void ReadUrl(SettingReader& reader, RedisQueueSettings* out) {
  const std::optional<std::string> url = reader.String("url");
  if (!url || url->empty()) {
    reader.Fail("url is required: the Redis to share jobs through, e.g. redis://127.0.0.1:6379/0");
    return;
  }
  std::string why;
  if (std::optional<RedisUrl> parsed = ParseRedisUrl(*url, &why)) {
    out->url = *parsed;
  } else {
    reader.Fail("url: " + why);
  }
}

void ReadNames(SettingReader& reader, RedisQueueSettings* out) {
  if (auto prefix = reader.String("prefix")) {
    if (IsKeyPart(*prefix)) {
      out->queue.prefix = out->records.prefix = *prefix;
    } else {
      reader.Fail("prefix must be 1-64 characters of A-Z a-z 0-9 _ : . -, got \"" +
                  prefix->substr(0, 80) + "\"");
    }
  }
  out->replica = DefaultReplicaName();
  if (auto replica = reader.String("replica"); replica && !replica->empty()) {
    if (IsKeyPart(*replica)) {
      out->replica = *replica;
    } else {
      reader.Fail("replica must be 1-64 characters of A-Z a-z 0-9 _ : . -, got \"" +
                  replica->substr(0, 80) + "\"");
    }
  }
  if (auto name = reader.String("password_env")) out->password_env = *name;
}

}  // namespace

std::string DefaultReplicaName() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') std::snprintf(host, 8, "host");
  std::string name;
  for (const char* c = host; *c != '\0'; ++c) name += IsKeyPart(std::string(1, *c)) ? *c : '_';
  return name.substr(0, 48) + "-" + std::to_string(::getpid());
}

RedisQueueSettings ReadRedisQueueSettings(
    const flx::Config& config,
    const std::function<std::optional<std::string>(const std::string&)>& getenv) {
  RedisQueueSettings s;
  SettingReader reader(config);
  ReadUrl(reader, &s);
  ReadNames(reader, &s);
  constexpr double kWeek = 7 * 86400;
  s.queue.claim_after_s = reader.Positive("claim_after_s", s.queue.claim_after_s, kWeek, 3);
  s.queue.max_deliveries =
      static_cast<int>(reader.Integer("max_deliveries", s.queue.max_deliveries, 1, 100));
  s.records.result_ttl_s = reader.Positive("result_ttl_s", s.records.result_ttl_s, 30 * 86400);
  s.max_queued = static_cast<size_t>(reader.Integer("max_queued", 1000, 0, 10000000));
  s.timeout_s = reader.Positive("timeout_s", s.timeout_s, 600);
  s.max_connections = static_cast<size_t>(reader.Integer("max_connections", 64, 4, 4096));
  reader.ThrowIfAnyError();
  if (!s.password_env.empty()) {
    if (std::optional<std::string> password = getenv(s.password_env)) {
      if (!password->empty()) s.url.password = *password;
    }
  }
  return s;
}

}  // namespace flx::redis
