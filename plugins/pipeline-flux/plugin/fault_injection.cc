#include "fault_injection.h"

#include <algorithm>

namespace flx::flux {
namespace {

const char* const kKey = "fault_injection";
const char* const kKnownKeys = "oom_first_n, oom_above_pixels, oom_when_dtype";

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) out += (out.empty() ? "" : ", ") + word;
  return out;
}

// The integer at `key` of `node` when present, well-typed and at least `min`.
std::optional<int64_t> integer_at_least(const flx::Config& node, const char* key, int64_t min,
                                        std::vector<std::string>* errors) {
  try {
    const std::optional<int64_t> value = node.integer(key);
    if (value && *value < min) {
      errors->push_back(node.error(std::string(key) + " must be at least " + std::to_string(min) +
                                   ", got " + std::to_string(*value))
                            .what());
      return std::nullopt;
    }
    return value;
  } catch (const flx::Error& e) {
    errors->push_back(e.what());
    return std::nullopt;
  }
}

std::optional<std::string> dtype_at(const flx::Config& node, const char* key,
                                    std::vector<std::string>* errors) {
  try {
    const std::optional<std::string> value = node.string(key);
    const std::vector<std::string>& dtypes = fault_injection_dtypes();
    if (value && std::find(dtypes.begin(), dtypes.end(), *value) == dtypes.end()) {
      errors->push_back(node.error(std::string(key) + " must be one of " + joined(dtypes) +
                                   ", got \"" + *value + "\"")
                            .what());
      return std::nullopt;
    }
    return value;
  } catch (const flx::Error& e) {
    errors->push_back(e.what());
    return std::nullopt;
  }
}

}  // namespace

bool FaultInjection::enabled() const {
  return oom_first_n.has_value() || oom_above_pixels.has_value() || oom_when_dtype.has_value();
}

const std::vector<std::string>& fault_injection_dtypes() {
  static const std::vector<std::string> dtypes = {"float32", "bfloat16", "float16"};
  return dtypes;
}

FaultInjection read_fault_injection(const flx::Config& stage_config,
                                    std::vector<std::string>* errors) {
  FaultInjection injection;
  flx::Config node;
  try {
    node = stage_config.node(kKey);
  } catch (const flx::Error& e) {
    errors->push_back(e.what());
    return injection;
  }
  if (!node) return injection;
  if (node.size() > 0) {
    errors->push_back(
        node.error(std::string(kKey) + " must be a map of " + kKnownKeys + ", got a sequence")
            .what());
    return injection;
  }
  for (const std::string& key : node.keys()) {
    if (key != "oom_first_n" && key != "oom_above_pixels" && key != "oom_when_dtype") {
      errors->push_back(
          node.error("unknown key '" + key + "' (fault_injection knows " + kKnownKeys + ")")
              .what());
    }
  }
  injection.oom_first_n = integer_at_least(node, "oom_first_n", 0, errors);
  injection.oom_above_pixels = integer_at_least(node, "oom_above_pixels", 1, errors);
  injection.oom_when_dtype = dtype_at(node, "oom_when_dtype", errors);
  return injection;
}

std::string fault_injection_summary(const FaultInjection& injection) {
  std::vector<std::string> parts;
  if (injection.oom_first_n) parts.push_back("oom_first_n: " + std::to_string(*injection.oom_first_n));
  if (injection.oom_above_pixels) {
    parts.push_back("oom_above_pixels: " + std::to_string(*injection.oom_above_pixels));
  }
  if (injection.oom_when_dtype) parts.push_back("oom_when_dtype: " + *injection.oom_when_dtype);
  return joined(parts);
}

std::optional<std::string> injected_failure(const FaultInjection& injection,
                                            const TryShape& shape) {
  if (injection.oom_first_n && shape.number <= *injection.oom_first_n) {
    return "try " + std::to_string(shape.number) + " of the first " +
           std::to_string(*injection.oom_first_n) + " (oom_first_n)";
  }
  const int64_t pixels = shape.width * shape.height;
  if (injection.oom_above_pixels && pixels > *injection.oom_above_pixels) {
    return std::to_string(shape.width) + "x" + std::to_string(shape.height) + " is " +
           std::to_string(pixels) + " pixels, above " +
           std::to_string(*injection.oom_above_pixels) + " (oom_above_pixels)";
  }
  if (injection.oom_when_dtype && shape.dtype == *injection.oom_when_dtype) {
    return "computing in " + shape.dtype + " (oom_when_dtype)";
  }
  return std::nullopt;
}

std::string injected_out_of_memory_message(const std::string& reason) {
  return "out of memory (injected: " + reason + ")";
}

}  // namespace flx::flux
