#include "test_pipeline_options.h"

#include <flx/codes.hpp>

#include <string>
#include <utility>
#include <vector>

namespace flx::test_pipeline {
namespace {

// Reads keys one by one and keeps every problem, so a config is fixed in one pass.
class OptionReader {
 public:
  explicit OptionReader(const flx::Config& config) : config_(config) {}

  template <class Read>
  auto Guard(Read read) -> decltype(read()) {
    try {
      return read();
    } catch (const flx::Error& e) {
      errors_.push_back(e.what());
      return {};
    }
  }

  std::optional<int64_t> Integer(const char* key, int64_t min) {
    std::optional<int64_t> value = Guard([&] { return config_.integer(key); });
    if (value && *value < min) {
      Fail(std::string(key) + " must be >= " + std::to_string(min) + ", got " +
           std::to_string(*value));
      return std::nullopt;
    }
    return value;
  }

  std::optional<int64_t> IntegerIn(const char* key, int64_t min, int64_t max) {
    std::optional<int64_t> value = Guard([&] { return config_.integer(key); });
    if (value && (*value < min || *value > max)) {
      Fail(std::string(key) + " must be between " + std::to_string(min) + " and " +
           std::to_string(max) + ", got " + std::to_string(*value));
      return std::nullopt;
    }
    return value;
  }

  std::optional<std::string> String(const char* key) {
    return Guard([&] { return config_.string(key); });
  }

  bool Boolean(const char* key) {
    return Guard([&] { return config_.boolean(key); }).value_or(false);
  }

  std::optional<flx_code> Code(const char* key) {
    std::optional<std::string> name = Guard([&] { return config_.string(key); });
    if (!name) return std::nullopt;
    std::optional<flx_code> code = flx::parse_failure_code(*name);
    if (!code) {
      Fail(std::string(key) + " must be one of " + flx::failure_code_names() + ", got \"" +
           *name + "\"");
    }
    return code;
  }

  void Fail(const std::string& message) { errors_.push_back(config_.error(message).what()); }

  void ThrowIfAnyError() const { flx::throw_config_errors(errors_); }

 private:
  const flx::Config& config_;
  std::vector<std::string> errors_;
};

}  // namespace


TestPipelineOptions ReadTestPipelineOptions(const flx::Config& config) {
  TestPipelineOptions options;
  if (!config) return options;
  OptionReader reader(config);
  options.delay_ms = reader.Integer("delay_ms", 0).value_or(0);
  options.fail_code = reader.Code("fail_code");
  options.fail_first_n = reader.Integer("fail_first_n", 0);
  options.fail_above_pixels = reader.Integer("fail_above_pixels", 1);
  options.throw_std_exception = reader.Boolean("throw_std_exception");
  options.prepare_delay_ms = reader.Integer("prepare_delay_ms", 0).value_or(0);
  options.prepare_fail = reader.Boolean("prepare_fail");
  options.runs_file = reader.String("runs_file").value_or("");
  options.size_multiple =
      reader.IntegerIn("size_multiple", 1, 1024).value_or(options.size_multiple);
  reader.ThrowIfAnyError();
  return options;
}

}  // namespace flx::test_pipeline
