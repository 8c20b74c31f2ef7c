// Process-wide logging on spdlog: one logger per stage (and "host"), all writing to the same
// sinks, as plain text or one JSON object per line (logging.format / FLUX_STRUCTURED_LOGS).
#ifndef FLX_HOST_LOGGING_H_
#define FLX_HOST_LOGGING_H_

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <string_view>

#include "status.h"

namespace flx {

struct LogSettings {
  std::string level = "info";  // trace|debug|info|warn|error|critical
  bool json = false;
};

// Replaces the sinks and level of every logger made by GetLogger (now and later).
Status ConfigureLogging(const LogSettings& settings);

// The logger named `name` (created on first use) sharing the configured sinks.
std::shared_ptr<spdlog::logger> GetLogger(const std::string& name);

// Logs `message`, tagged with `request_id` when it is not empty: a "[req=ID] " prefix in
// text mode, a "request_id" field in JSON mode. `fields` is empty or the text of a JSON
// object ({"model":"m","total_s":1.5}) whose members JSON mode adds to the line after
// request_id; text mode ignores it, so callers also write those facts into `message`.
void LogWithRequest(spdlog::logger& logger, spdlog::level::level_enum level,
                    const std::string& request_id, std::string_view message,
                    std::string_view fields = {});

}  // namespace flx

#endif  // FLX_HOST_LOGGING_H_
