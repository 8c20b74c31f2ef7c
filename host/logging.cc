#include "logging.h"

#include "http/json_writer.h"

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>

namespace flx {
namespace {

// The request a log call is about, for sinks that want it as a field. spdlog calls sinks on
// the logging thread, so a thread-local is exact here.
thread_local const std::string* tls_request_id = nullptr;
// Likewise the JSON object whose members extend the line.
thread_local std::string_view tls_fields;

void AppendJsonString(std::string& out, std::string_view s) { JsonWriter::AppendEscaped(out, s); }

// One JSON object per line on stderr: ts, level, logger, msg, request_id, then the caller's
// fields.
class JsonLineSink : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string line;
    line.reserve(160 + msg.payload.size());
    auto t = std::chrono::system_clock::to_time_t(msg.time);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch())
                  .count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[64];
    std::snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms));
    line += "{\"ts\":";
    AppendJsonString(line, ts);
    line += ",\"level\":";
    auto level = spdlog::level::to_string_view(msg.level);
    AppendJsonString(line, std::string_view(level.data(), level.size()));
    line += ",\"logger\":";
    AppendJsonString(line, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    line += ",\"msg\":";
    AppendJsonString(line, std::string_view(msg.payload.data(), msg.payload.size()));
    if (tls_request_id != nullptr && !tls_request_id->empty()) {
      line += ",\"request_id\":";
      AppendJsonString(line, *tls_request_id);
    }
    if (tls_fields.size() > 2 && tls_fields.front() == '{' && tls_fields.back() == '}') {
      line += ',';
      line.append(tls_fields.substr(1, tls_fields.size() - 2));
    }
    line += "}\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

struct Registry {
  std::mutex mutex;
  LogSettings settings;
  std::atomic<bool> json{false};  // read on every log line without the mutex
  std::vector<spdlog::sink_ptr> sinks;
  std::map<std::string, std::shared_ptr<spdlog::logger>> loggers;
};

Registry& GetRegistry() {
  static Registry* registry = [] {
    auto* r = new Registry;  // lives for the whole process: plugins may log during exit
    r->sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    r->sinks.back()->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %v");
    return r;
  }();
  return *registry;
}

}  // namespace

Status ConfigureLogging(const LogSettings& settings) {
  auto level = spdlog::level::from_str(settings.level);
  if (level == spdlog::level::off && settings.level != "off") {
    return InvalidArgument("unknown log level '" + settings.level +
                           "' (expected trace, debug, info, warn, error or critical)");
  }
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.settings = settings;
  r.json.store(settings.json);
  r.sinks.clear();
  if (settings.json) {
    r.sinks.push_back(std::make_shared<JsonLineSink>());
  } else {
    r.sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    r.sinks.back()->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %v");
  }
  for (auto& [name, logger] : r.loggers) {
    logger->sinks() = r.sinks;
    logger->set_level(level);
  }
  return Status::Ok();
}

std::shared_ptr<spdlog::logger> GetLogger(const std::string& name) {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.loggers.find(name);
  if (it != r.loggers.end()) return it->second;
  auto logger = std::make_shared<spdlog::logger>(name, r.sinks.begin(), r.sinks.end());
  logger->set_level(spdlog::level::from_str(r.settings.level));
  logger->flush_on(spdlog::level::warn);
  r.loggers.emplace(name, logger);
  return logger;
}

void LogWithRequest(spdlog::logger& logger, spdlog::level::level_enum level,
                    const std::string& request_id, std::string_view message,
                    std::string_view fields) {
  if (!logger.should_log(level)) return;
  bool json = GetRegistry().json.load(std::memory_order_relaxed);
  if (request_id.empty() || json) {
    tls_request_id = &request_id;
    tls_fields = json ? fields : std::string_view();
    logger.log(level, "{}", message);
    tls_request_id = nullptr;
    tls_fields = {};
  } else {
    logger.log(level, "[req={}] {}", request_id, message);
  }
}

}  // namespace flx
