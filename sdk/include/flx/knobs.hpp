// knobs.hpp — the knobs of flx/vocabulary.h as typed C++ values: one parser for a request's
// overrides, the scaling rules of the relative knobs, and the spellings a policy writes.
// Header-only, like plugin.hpp; a pipeline, a recovery policy and the host all use it, so a
// knob means the same thing to each of them.
//
//   const flx::Knobs knobs = flx::Knobs::parse(request);   // throws flx::Error on bad values
//   int64_t steps = knobs.scaled_steps(request.steps ? request.steps : my_default_steps);
//   if (knobs.vae_tiling.value_or(false)) ...
//   flx::set_param(result, FLX_KNOB_VAE_TILING, flx::knob_bool(tiling));
#ifndef FLX_KNOBS_HPP_
#define FLX_KNOBS_HPP_

#include <flx/flx.h>
#include <flx/vocabulary.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <flx/plugin.hpp>
#include <map>
#include <optional>
#include <string>

namespace flx {

// The largest absolute knob value accepted (steps, width, height, bounds): nine digits, so
// arithmetic on it never overflows; pipelines apply their own, lower limits.
inline constexpr int64_t kMaxKnobInteger = 999999999;

// "true" / "false", the spelling of a boolean knob.
inline const char* knob_bool(bool value) { return value ? FLX_KNOB_TRUE : FLX_KNOB_FALSE; }

// The shortest fixed-point text that reads back as `factor` (for steps_factor and
// resolution_factor; parse() reads it with strtod).
inline std::string knob_factor(double factor) {
  char text[64];
  for (int precision = 1; precision <= 40; ++precision) {
    std::snprintf(text, sizeof(text), "%.*f", precision, factor);
    if (std::strtod(text, nullptr) == factor) return text;
  }
  std::snprintf(text, sizeof(text), "%.17g", factor);
  return text;
}

// min(steps, max(min_steps, round(steps * factor))): never raises a count already below the
// bound.
inline int64_t scale_steps(int64_t steps, double factor, int64_t min_steps) {
  const int64_t scaled = std::llround(static_cast<double>(steps) * factor);
  return std::min(steps, std::max(min_steps, scaled));
}

// min(side, max(lower, floor(side * factor / multiple) * multiple)), lower being min_side
// rounded up to the multiple, or one multiple.
inline int64_t scale_side(int64_t side, double factor, int64_t min_side, int64_t multiple) {
  const int64_t lower = std::max(multiple, (min_side + multiple - 1) / multiple * multiple);
  const auto scaled =
      static_cast<int64_t>(std::floor(static_cast<double>(side) * factor / multiple)) * multiple;
  return std::min(side, std::max(lower, scaled));
}

// The knobs a request carries, each nullopt when not set.
struct Knobs {
  std::optional<int64_t> steps;
  std::optional<int64_t> width;
  std::optional<int64_t> height;
  std::optional<double> steps_factor;
  std::optional<int64_t> min_steps;
  std::optional<double> resolution_factor;
  std::optional<int64_t> min_side;
  std::optional<bool> empty_cache;
  std::optional<std::string> attention_slicing;  // checked by the pipeline that applies it
  std::optional<bool> vae_tiling;
  std::optional<bool> vae_slicing;
  std::optional<std::string> offload;  // checked by the pipeline that applies it
  std::optional<std::string> dtype;    // checked by the pipeline that applies it
  // Every knob that was set, with the text it was given.
  std::map<std::string, std::string> given;

  // Reads `overrides` (later entries win; keys outside the vocabulary are ignored). A knob
  // whose value is malformed throws flx::Error FLX_INVALID_ARGUMENT with detail "param" = the
  // key and a message saying what it must be.
  static Knobs parse(const std::map<std::string, std::string>& overrides) {
    Knobs knobs;
    for (const auto& [key, value] : overrides) knobs.read(key, value);
    return knobs;
  }
  static Knobs parse(const flx_request& request) { return parse(flx::overrides(request)); }

  // `steps` after steps_factor and min_steps (unchanged without a factor).
  int64_t scaled_steps(int64_t steps) const {
    return steps_factor ? scale_steps(steps, *steps_factor, min_steps.value_or(1)) : steps;
  }
  // `side` after resolution_factor and min_side, `multiple` being the pipeline's size
  // multiple (unchanged without a factor).
  int64_t scaled_side(int64_t side, int64_t multiple) const {
    return resolution_factor ? scale_side(side, *resolution_factor, min_side.value_or(0), multiple)
                             : side;
  }

 private:
  static Error invalid(const std::string& key, const std::string& must, const std::string& text) {
    return Error(FLX_INVALID_ARGUMENT,
                 "override " + key + " must be " + must + ", got \"" + text + "\"")
        .detail("param", key);
  }
  static int64_t integer(const std::string& key, const std::string& text) {
    const bool digits = !text.empty() && text.size() <= 9 &&
                        text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoll(text) < 1) throw invalid(key, "a decimal integer >= 1", text);
    return std::stoll(text);
  }
  static double factor(const std::string& key, const std::string& text) {
    char* end = nullptr;
    const double value = text.empty() ? NAN : std::strtod(text.c_str(), &end);
    if (std::isnan(value) || end != text.c_str() + text.size() || !(value > 0 && value <= 1)) {
      throw invalid(key, "a decimal in (0, 1]", text);
    }
    return value;
  }
  static bool boolean(const std::string& key, const std::string& text) {
    if (text != FLX_KNOB_TRUE && text != FLX_KNOB_FALSE) throw invalid(key, "true or false", text);
    return text == FLX_KNOB_TRUE;
  }

  // Sets the member of `key` from `text`; keys outside the vocabulary are left alone.
  void read(const std::string& key, const std::string& text) {
    if (key == FLX_KNOB_STEPS) {
      steps = integer(key, text);
    } else if (key == FLX_KNOB_WIDTH) {
      width = integer(key, text);
    } else if (key == FLX_KNOB_HEIGHT) {
      height = integer(key, text);
    } else if (key == FLX_KNOB_STEPS_FACTOR) {
      steps_factor = factor(key, text);
    } else if (key == FLX_KNOB_MIN_STEPS) {
      min_steps = integer(key, text);
    } else if (key == FLX_KNOB_RESOLUTION_FACTOR) {
      resolution_factor = factor(key, text);
    } else if (key == FLX_KNOB_MIN_SIDE) {
      min_side = integer(key, text);
    } else if (key == FLX_KNOB_EMPTY_CACHE) {
      empty_cache = boolean(key, text);
    } else if (key == FLX_KNOB_ATTENTION_SLICING) {
      attention_slicing = text;
    } else if (key == FLX_KNOB_VAE_TILING) {
      vae_tiling = boolean(key, text);
    } else if (key == FLX_KNOB_VAE_SLICING) {
      vae_slicing = boolean(key, text);
    } else if (key == FLX_KNOB_OFFLOAD) {
      offload = text;
    } else if (key == FLX_KNOB_DTYPE) {
      dtype = text;
    } else {
      return;
    }
    given[key] = text;
  }
};

}  // namespace flx

#endif  // FLX_KNOBS_HPP_
