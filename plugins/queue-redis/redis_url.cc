#include "redis_url.h"

#include <cctype>

namespace flx::redis {
namespace {

constexpr const char kScheme[] = "redis://";

// A decimal integer in [lo, hi] spelling all of `text`.
std::optional<int> ParseNumber(const std::string& text, int lo, int hi) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value < lo || value > hi) return std::nullopt;
  return value;
}

bool Fail(std::string* why, const std::string& message) {
  if (why != nullptr) *why = message;
  return false;
}

// "[user]:password" before the '@'.
bool ParseCredentials(const std::string& text, RedisUrl* url, std::string* why) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) {
    return Fail(why, "credentials must be ':password' or 'user:password' before '@'");
  }
  url->user = text.substr(0, colon);
  url->password = text.substr(colon + 1);
  return true;
}

// "host[:port]", with IPv6 hosts in brackets.
bool ParseHostPort(const std::string& text, RedisUrl* url, std::string* why) {
  std::string port;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos) return Fail(why, "'[' without ']' in the host");
    url->host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return Fail(why, "expected ':' after ']'");
      port = text.substr(close + 2);
    }
  } else {
    const size_t colon = text.rfind(':');
    url->host = text.substr(0, colon);
    if (colon != std::string::npos) port = text.substr(colon + 1);
  }
  if (url->host.empty()) return Fail(why, "the URL names no host");
  if (!port.empty() || text.back() == ':') {
    const std::optional<int> parsed = ParseNumber(port, 1, 65535);
    if (!parsed) return Fail(why, "port '" + port + "' is not in 1..65535");
    url->port = *parsed;
  }
  return true;
}

}  // namespace

std::string RedisUrl::Display() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return std::string(kScheme) + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port) +
         "/" + std::to_string(db);
}

std::optional<RedisUrl> ParseRedisUrl(const std::string& text, std::string* why) {
  if (text.rfind(kScheme, 0) != 0) {
    Fail(why,
         "expected redis://[[user]:password@]host[:port][/db], got '" + text.substr(0, 60) + "'");
    return std::nullopt;
  }
  std::string rest = text.substr(sizeof(kScheme) - 1);
  RedisUrl url;
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    const std::string db = rest.substr(slash + 1);
    const std::optional<int> parsed =
        db.empty() ? std::optional<int>(0) : ParseNumber(db, 0, 1 << 20);
    if (!parsed) {
      Fail(why, "database '" + db + "' is not a number");
      return std::nullopt;
    }
    url.db = *parsed;
    rest.resize(slash);
  }
  const size_t at = rest.rfind('@');
  if (at != std::string::npos) {
    if (!ParseCredentials(rest.substr(0, at), &url, why)) return std::nullopt;
    rest = rest.substr(at + 1);
  }
  if (!ParseHostPort(rest, &url, why)) return std::nullopt;
  return url;
}

}  // namespace flx::redis
