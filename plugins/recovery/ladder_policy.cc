#include "ladder_policy.h"

#include <flx/codes.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "override_keys.h"

namespace flx::recovery {
namespace {

// One knob of a rung: its reason code, how a person reads it, and what it sends.
struct Knob {
  std::string code;
  std::string phrase;
  std::vector<std::pair<std::string, std::string>> overrides;
};

// The shortest fixed-point text that reads back as `value` (pipelines parse it with strtod).
std::string FormatDecimal(double value) {
  char text[64];
  for (int precision = 1; precision <= 40; ++precision) {
    std::snprintf(text, sizeof(text), "%.*f", precision, value);
    if (std::strtod(text, nullptr) == value) return text;
  }
  std::snprintf(text, sizeof(text), "%.17g", value);
  return text;
}

// The factor in force for `key` (1 when absent).
double FactorInForce(const std::map<std::string, std::string>& in_force, const char* key) {
  auto it = in_force.find(key);
  if (it == in_force.end()) return 1.0;
  const std::string& text = it->second;
  char* end = nullptr;
  const double value = text.empty() ? NAN : std::strtod(text.c_str(), &end);
  if (std::isnan(value) || end != text.c_str() + text.size() || !(value > 0 && value <= 1)) {
    throw std::invalid_argument(std::string("override ") + key + " = \"" + text +
                                "\" in force is not a decimal in (0, 1]");
  }
  return value;
}

std::string OnOff(bool on) { return on ? "on" : "off"; }
std::string TrueFalse(bool on) { return on ? "true" : "false"; }

std::vector<Knob> KnobsOf(const Rung& rung, const std::map<std::string, std::string>& in_force) {
  std::vector<Knob> knobs;
  if (rung.empty_cache) {
    knobs.push_back({"empty_cache", "the device cache emptied", {{kEmptyCache, "true"}}});
  }
  if (rung.attention_slicing) {
    knobs.push_back({"attention_slicing",
                     "attention slicing " + *rung.attention_slicing,
                     {{kAttentionSlicing, *rung.attention_slicing}}});
  }
  if (rung.vae_tiling) {
    knobs.push_back({"vae_tiling",
                     "VAE tiling " + OnOff(*rung.vae_tiling),
                     {{kVaeTiling, TrueFalse(*rung.vae_tiling)}}});
  }
  if (rung.vae_slicing) {
    knobs.push_back({"vae_slicing",
                     "VAE slicing " + OnOff(*rung.vae_slicing),
                     {{kVaeSlicing, TrueFalse(*rung.vae_slicing)}}});
  }
  if (rung.offload) {
    knobs.push_back({"offload",
                     *rung.offload == "none" ? "no offload" : *rung.offload + " offload",
                     {{kOffload, *rung.offload}}});
  }
  if (rung.dtype) {
    knobs.push_back({"dtype", "dtype " + *rung.dtype, {{kDtype, *rung.dtype}}});
  }
  if (rung.halve_steps) {
    const std::string factor = FormatDecimal(FactorInForce(in_force, kStepsFactor) / 2);
    Knob knob{"steps_halved", "half the steps (steps_factor " + factor, {{kStepsFactor, factor}}};
    if (rung.min_steps) {
      knob.phrase += ", at least " + std::to_string(*rung.min_steps);
      knob.overrides.emplace_back(kMinSteps, std::to_string(*rung.min_steps));
    }
    knob.phrase += ")";
    knobs.push_back(std::move(knob));
  }
  if (rung.halve_resolution) {
    const std::string factor = FormatDecimal(FactorInForce(in_force, kResolutionFactor) / 2);
    Knob knob{"resolution_halved",
              "half the resolution (resolution_factor " + factor,
              {{kResolutionFactor, factor}}};
    if (rung.min_side) {
      knob.phrase += ", sides at least " + std::to_string(*rung.min_side);
      knob.overrides.emplace_back(kMinSide, std::to_string(*rung.min_side));
    }
    knob.phrase += ")";
    knobs.push_back(std::move(knob));
  }
  return knobs;
}

// "out of memory (CUDA out of memory. Tried to allocate ...)", without repeating a message
// that already says so.
std::string DescribeFailure(const TryFailure& failure) {
  const std::string what =
      failure.code == FLX_RESOURCE_EXHAUSTED ? "out of memory" : flx::code_name(failure.code);
  if (failure.message.empty()) return what;
  if (failure.message.compare(0, what.size(), what) == 0) return failure.message;
  return what + " (" + failure.message + ")";
}

}  // namespace

LadderPolicy::LadderPolicy(LadderSettings settings) : settings_(std::move(settings)) {}

size_t LadderPolicy::reachable_rungs() const {
  if (settings_.max_attempts == 0) return 0;
  return std::min<size_t>(settings_.rungs.size(), settings_.max_attempts - 1);
}

bool LadderPolicy::Handles(flx_code code) const {
  return std::find(settings_.codes.begin(), settings_.codes.end(), code) != settings_.codes.end();
}

std::optional<RetryPlan> LadderPolicy::Decide(
    const TryFailure& failure, uint32_t attempt,
    const std::map<std::string, std::string>& in_force) const {
  if (attempt == 0 || attempt >= settings_.max_attempts || !Handles(failure.code)) {
    return std::nullopt;
  }
  const size_t index = attempt - 1;
  if (index >= settings_.rungs.size()) return std::nullopt;
  const Rung& rung = settings_.rungs[index];

  RetryPlan plan;
  std::string phrases;
  for (Knob& knob : KnobsOf(rung, in_force)) {
    if (!plan.reason_code.empty()) plan.reason_code += '+';
    plan.reason_code += knob.code;
    if (!phrases.empty()) phrases += ", ";
    phrases += knob.phrase;
    for (auto& kv : knob.overrides) plan.overrides.push_back(std::move(kv));
  }
  if (plan.reason_code.empty()) {
    plan.reason_code = "retry";
    phrases = "the same settings";
  }
  if (!rung.reason.empty()) plan.reason_code = rung.reason;
  plan.message = DescribeFailure(failure) + ": retrying with " + phrases + " (rung " +
                 std::to_string(index + 1) + " of " + std::to_string(reachable_rungs()) + ")";
  plan.delay_ms = rung.delay_ms.value_or(settings_.delay_ms);
  return plan;
}

}  // namespace flx::recovery
