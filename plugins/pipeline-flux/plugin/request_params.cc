#include "request_params.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <flx/knobs.hpp>
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

int64_t round_down_to(int64_t value, int64_t multiple) {
  return std::clamp(value / multiple * multiple, multiple, kMaxSide / multiple * multiple);
}

// The knobs this stage applies itself later (stage_settings.h, flux_stage.h) and reports as
// effective parameters under their own keys; steps, width and height are reported as the
// effective values instead.
bool reported_as_given(const std::string& key) {
  return key != FLX_KNOB_STEPS && key != FLX_KNOB_WIDTH && key != FLX_KNOB_HEIGHT &&
         key != FLX_KNOB_DTYPE && key != FLX_KNOB_OFFLOAD;
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

  const flx::Knobs knobs = flx::Knobs::parse(request);
  if (knobs.steps) resolved.steps = checked_range("steps", *knobs.steps, kMaxSteps);
  if (knobs.width) resolved.width = round_down_to(*knobs.width, size_multiple);
  if (knobs.height) resolved.height = round_down_to(*knobs.height, size_multiple);
  resolved.steps = static_cast<int>(knobs.scaled_steps(resolved.steps));
  resolved.width = knobs.scaled_side(resolved.width, size_multiple);
  resolved.height = knobs.scaled_side(resolved.height, size_multiple);
  resolved.empty_cache = knobs.empty_cache.value_or(false);
  resolved.attention_slicing = knobs.attention_slicing;
  resolved.vae_tiling = knobs.vae_tiling;
  resolved.vae_slicing = knobs.vae_slicing;
  resolved.dtype = knobs.dtype;
  resolved.offload = knobs.offload;
  for (const auto& [key, value] : knobs.given) {
    if (reported_as_given(key)) resolved.applied_overrides[key] = value;
  }
  if (FLX_HAS_FIELD(flx_request, &request, dump_dir) && request.dump_dir != nullptr) {
    resolved.dump_dir = request.dump_dir;
  }
  return resolved;
}

}  // namespace flx::flux
