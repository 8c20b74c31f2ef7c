#include "redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cmath>

namespace flx::redis {
namespace {

timeval ToTimeval(double seconds) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>((seconds - std::floor(seconds)) * 1e6);
  return tv;
}

RedisReply Convert(const redisReply* raw) {
  RedisReply reply;
  if (raw == nullptr) return reply;
  switch (raw->type) {
    case REDIS_REPLY_STRING:
      reply.type = RedisReply::Type::kString;
      reply.text.assign(raw->str, raw->len);
      break;
    case REDIS_REPLY_STATUS:
      reply.type = RedisReply::Type::kStatus;
      reply.text.assign(raw->str, raw->len);
      break;
    case REDIS_REPLY_ERROR:
      reply.type = RedisReply::Type::kError;
      reply.text.assign(raw->str, raw->len);
      break;
    case REDIS_REPLY_INTEGER:
      reply.type = RedisReply::Type::kInteger;
      reply.integer = raw->integer;
      break;
    case REDIS_REPLY_ARRAY:
      reply.type = RedisReply::Type::kArray;
      for (size_t i = 0; i < raw->elements; ++i) reply.elements.push_back(Convert(raw->element[i]));
      break;
    default:
      break;  // nil
  }
  return reply;
}

}  // namespace

RedisClient::RedisClient(RedisUrl url, double timeout_s)
    : url_(std::move(url)), timeout_s_(timeout_s) {}

RedisClient::~RedisClient() { DropLocked(); }

void RedisClient::DropLocked() {
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
}

void RedisClient::ConnectLocked() {
  DropLocked();
  context_ = redisConnectWithTimeout(url_.host.c_str(), url_.port, ToTimeval(timeout_s_));
  if (context_ == nullptr || context_->err != 0) {
    const std::string why = context_ != nullptr ? context_->errstr : "out of memory";
    DropLocked();
    throw RedisUnavailable("Redis at " + url_.Display() + " is unavailable: " + why);
  }
  redisSetTimeout(context_, ToTimeval(timeout_s_));
  std::vector<std::vector<std::string>> setup;
  if (url_.password) {
    setup.push_back(url_.user.empty()
                        ? std::vector<std::string>{"AUTH", *url_.password}
                        : std::vector<std::string>{"AUTH", url_.user, *url_.password});
  }
  if (url_.db != 0) setup.push_back({"SELECT", std::to_string(url_.db)});
  for (const auto& argv : setup) {
    RedisReply reply;
    if (!TryLocked(argv, &reply) || reply.IsError()) {
      const std::string why = reply.IsError() ? reply.text : "the connection broke";
      DropLocked();
      throw RedisUnavailable("Redis at " + url_.Display() + " refused " + argv[0] + ": " + why);
    }
  }
}

bool RedisClient::TryLocked(const std::vector<std::string>& argv, RedisReply* reply) {
  std::vector<const char*> pointers;
  std::vector<size_t> lengths;
  for (const std::string& arg : argv) {
    pointers.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* raw = static_cast<redisReply*>(
      redisCommandArgv(context_, int(argv.size()), pointers.data(), lengths.data()));
  if (raw == nullptr) return false;  // context_->err says why; the connection is unusable
  *reply = Convert(raw);
  freeReplyObject(raw);
  return true;
}

RedisReply RedisClient::Command(const std::vector<std::string>& argv) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (context_ == nullptr) ConnectLocked();
    RedisReply reply;
    if (TryLocked(argv, &reply)) {
      // A Redis that restarts answers LOADING until its data set is read back: not an answer
      // about the data, so the caller hears "unavailable" (503, retried), not a failure.
      if (reply.IsError() && reply.text.rfind("LOADING", 0) == 0) {
        throw RedisUnavailable("Redis at " + url_.Display() +
                               " is loading its data: " + reply.text);
      }
      return reply;
    }
    DropLocked();  // lost (Redis restarted, network): reconnect once
  }
  throw RedisUnavailable("Redis at " + url_.Display() + " is unavailable: the connection broke");
}

}  // namespace flx::redis
