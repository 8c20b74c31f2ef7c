#include "request_params.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <flx/plugin.hpp>
#include <optional>

namespace flx::flux {
namespace {

constexpr int kSchnellSteps = 4;
constexpr int kSchnellMaxSequenceLength = 256;
constexpr int kDevSteps = 28;
constexpr double kDevGuidance = 3.5;
constexpr int kDevMaxSequenceLength = 512;

flx::Error invalid(const std::string& param, const std::string& message) {
  return flx::Error(FLX_INVALID_ARGUMENT, message).detail("param", param);
}

int64_t checked_side(const char* name, int64_t value, int64_t multiple) {
  if (value >= multiple && value <= kMaxSide && value % multiple == 0) return value;
  const int64_t below = std::max(multiple, value / multiple * multiple);
  const int64_t above = below + multiple;
  std::string message = std::string(name) + " " + std::to_string(value);
  if (value > kMaxSide) {
    message += " is above the largest size " + std::to_string(kMaxSide);
  } else {
    message += " is not a multiple of " + std::to_string(multiple) +
               " (2 x this model's VAE scale factor " + std::to_string(multiple / 2) + "); use " +
               (value < multiple ? std::to_string(multiple)
                                 : std::to_string(below) + " or " + std::to_string(above));
  }
  throw invalid("size", message);
}

int checked_range(const char* name, int64_t value, int64_t max) {
  if (value < 1 || value > max) {
    throw invalid(name, std::string(name) + " must be between 1 and " + std::to_string(max) +
                            ", got " + std::to_string(value));
  }
  return static_cast<int>(value);
}

int64_t override_integer(const std::string& key, const std::string& text) {
  const bool digits = !text.empty() && text.size() <= 9 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) {
    throw invalid(key, "override " + key + " must be a decimal integer, got \"" + text + "\"");
  }
  return std::stoll(text);
}

int64_t round_down_to(int64_t value, int64_t multiple) {
  return std::clamp(value / multiple * multiple, multiple, kMaxSide / multiple * multiple);
}

double override_factor(const std::string& key, const std::string& text) {
  char* end = nullptr;
  const double value = text.empty() ? NAN : std::strtod(text.c_str(), &end);
  if (std::isnan(value) || end != text.c_str() + text.size() || !(value > 0 && value <= 1)) {
    throw invalid(key, "override " + key + " must be a decimal in (0, 1], got \"" + text + "\"");
  }
  return value;
}

bool override_boolean(const std::string& key, const std::string& text) {
  if (text != "true" && text != "false") {
    throw invalid(key, "override " + key + " must be true or false, got \"" + text + "\"");
  }
  return text == "true";
}

int64_t override_bound(const std::string& key, const std::string& text) {
  const int64_t value = override_integer(key, text);
  if (value < 1) throw invalid(key, "override " + key + " must be at least 1, got " + text);
  return value;
}

// The relative overrides of a recovery stage, applied after every absolute value is known.
struct Scaling {
  std::optional<double> steps_factor;
  int64_t min_steps = 1;
  std::optional<double> resolution_factor;
  int64_t min_side = 0;
};

int scale_steps(int steps, double factor, int64_t min_steps) {
  const int64_t scaled = std::llround(steps * factor);
  return static_cast<int>(std::min<int64_t>(steps, std::max(min_steps, scaled)));
}

int64_t scale_side(int64_t side, double factor, int64_t min_side, int64_t multiple) {
  const int64_t lower = std::max(multiple, (min_side + multiple - 1) / multiple * multiple);
  const auto scaled = static_cast<int64_t>(std::floor(side * factor / multiple)) * multiple;
  return std::min(side, std::max(lower, scaled));
}

}  // namespace

ModelDefaults model_defaults(bool guidance_embeds, const FluxOptions& options) {
  ModelDefaults defaults;
  defaults.steps = options.default_steps.value_or(guidance_embeds ? kDevSteps : kSchnellSteps);
  if (guidance_embeds) defaults.guidance = options.default_guidance.value_or(kDevGuidance);
  defaults.max_sequence_length = options.default_max_sequence_length.value_or(
      guidance_embeds ? kDevMaxSequenceLength : kSchnellMaxSequenceLength);
  defaults.width = options.default_width;
  defaults.height = options.default_height;
  return defaults;
}

ResolvedRequest resolve_request(const flx_request& request, const ModelDefaults& defaults,
                                int64_t size_multiple) {
  ResolvedRequest resolved;
  resolved.prompt = request.prompt != nullptr ? request.prompt : "";
  resolved.prompt_2 = request.prompt_2 != nullptr ? request.prompt_2 : resolved.prompt;
  resolved.width =
      request.width != 0 ? checked_side("width", request.width, size_multiple) : defaults.width;
  resolved.height =
      request.height != 0 ? checked_side("height", request.height, size_multiple) : defaults.height;
  resolved.steps =
      request.steps != 0 ? checked_range("steps", request.steps, kMaxSteps) : defaults.steps;
  if (defaults.guidance) {
    resolved.guidance = std::isnan(request.guidance) ? *defaults.guidance : request.guidance;
  }
  resolved.max_sequence_length =
      request.max_sequence_length != 0
          ? checked_range("max_sequence_length", request.max_sequence_length,
                          kMaxSequenceLengthLimit)
          : defaults.max_sequence_length;
  resolved.seed = request.seed;
  if (request.n < 1) throw invalid("n", "n must be at least 1, got " + std::to_string(request.n));
  resolved.n = static_cast<int>(request.n);

  Scaling scaling;
  for (const auto& [key, value] : flx::overrides(request)) {
    if (key == "steps") {
      resolved.steps = checked_range("steps", override_integer(key, value), kMaxSteps);
    } else if (key == "width") {
      resolved.width = round_down_to(override_integer(key, value), size_multiple);
    } else if (key == "height") {
      resolved.height = round_down_to(override_integer(key, value), size_multiple);
    } else if (key == "steps_factor") {
      scaling.steps_factor = override_factor(key, value);
      resolved.applied_overrides[key] = value;
    } else if (key == "min_steps") {
      scaling.min_steps = override_bound(key, value);
      resolved.applied_overrides[key] = value;
    } else if (key == "resolution_factor") {
      scaling.resolution_factor = override_factor(key, value);
      resolved.applied_overrides[key] = value;
    } else if (key == "min_side") {
      scaling.min_side = override_bound(key, value);
      resolved.applied_overrides[key] = value;
    } else if (key == "dump_dir") {
      resolved.dump_dir = value;
    } else if (key == "empty_cache") {
      resolved.empty_cache = override_boolean(key, value);
      resolved.applied_overrides[key] = value;
    } else if (key == "vae_tiling") {
      resolved.vae_tiling = override_boolean(key, value);
      resolved.applied_overrides[key] = value;
    } else if (key == "vae_slicing") {
      resolved.vae_slicing = override_boolean(key, value);
      resolved.applied_overrides[key] = value;
    } else if (key == "attention_slicing") {
      resolved.attention_slicing = value;
      resolved.applied_overrides[key] = value;
    } else if (key == "dtype") {
      resolved.dtype = value;
    } else if (key == "offload") {
      resolved.offload = value;
    }
  }
  if (scaling.steps_factor) {
    resolved.steps = scale_steps(resolved.steps, *scaling.steps_factor, scaling.min_steps);
  }
  if (scaling.resolution_factor) {
    resolved.width =
        scale_side(resolved.width, *scaling.resolution_factor, scaling.min_side, size_multiple);
    resolved.height =
        scale_side(resolved.height, *scaling.resolution_factor, scaling.min_side, size_multiple);
  }
  return resolved;
}

}  // namespace flx::flux
