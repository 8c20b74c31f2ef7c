#include "ladder_policy.h"

#include <flx/codes.hpp>
#include <flx/knobs.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>


namespace flx::recovery {
namespace {

// One knob of a rung: its reason code, how a person reads it, and what it sends.
struct Knob {
  std::string code;
  std::string phrase;
  std::vector<std::pair<std::string, std::string>> overrides;
};

// The factor in force for `key` (1 when absent), read as every pipeline reads it.
// Knobs in force were sent by a stage, so a malformed one is a bug there (INTERNAL), not bad
// client input.
double FactorInForce(const std::map<std::string, std::string>& in_force, const char* key) {
  flx::Knobs knobs;
  try {
    knobs = flx::Knobs::parse(in_force);
  } catch (const flx::Error& e) {
    throw std::logic_error(std::string("the knobs in force are malformed: ") + e.what());
  }
  const std::optional<double> factor =
      std::string(key) == FLX_KNOB_STEPS_FACTOR ? knobs.steps_factor : knobs.resolution_factor;
  return factor.value_or(1.0);
}

std::string OnOff(bool on) { return on ? "on" : "off"; }

std::vector<Knob> KnobsOf(const Rung& rung, const std::map<std::string, std::string>& in_force) {
  std::vector<Knob> knobs;
  if (rung.empty_cache) {
    knobs.push_back({FLX_KNOB_EMPTY_CACHE, "the device cache emptied", {{FLX_KNOB_EMPTY_CACHE, FLX_KNOB_TRUE}}});
  }
  if (rung.attention_slicing) {
    knobs.push_back({FLX_KNOB_ATTENTION_SLICING,
                     "attention slicing " + *rung.attention_slicing,
                     {{FLX_KNOB_ATTENTION_SLICING, *rung.attention_slicing}}});
  }
  if (rung.vae_tiling) {
    knobs.push_back({FLX_KNOB_VAE_TILING,
                     "VAE tiling " + OnOff(*rung.vae_tiling),
                     {{FLX_KNOB_VAE_TILING, flx::knob_bool(*rung.vae_tiling)}}});
  }
  if (rung.vae_slicing) {
    knobs.push_back({FLX_KNOB_VAE_SLICING,
                     "VAE slicing " + OnOff(*rung.vae_slicing),
                     {{FLX_KNOB_VAE_SLICING, flx::knob_bool(*rung.vae_slicing)}}});
  }
  if (rung.offload) {
    knobs.push_back({FLX_KNOB_OFFLOAD,
                     *rung.offload == "none" ? "no offload" : *rung.offload + " offload",
                     {{FLX_KNOB_OFFLOAD, *rung.offload}}});
  }
  if (rung.dtype) {
    knobs.push_back({FLX_KNOB_DTYPE, "dtype " + *rung.dtype, {{FLX_KNOB_DTYPE, *rung.dtype}}});
  }
  if (rung.halve_steps) {
    const std::string factor = flx::knob_factor(FactorInForce(in_force, FLX_KNOB_STEPS_FACTOR) / 2);
    Knob knob{"steps_halved", "half the steps (steps_factor " + factor, {{FLX_KNOB_STEPS_FACTOR, factor}}};
    if (rung.min_steps) {
      knob.phrase += ", at least " + std::to_string(*rung.min_steps);
      knob.overrides.emplace_back(FLX_KNOB_MIN_STEPS, std::to_string(*rung.min_steps));
    }
    knob.phrase += ")";
    knobs.push_back(std::move(knob));
  }
  if (rung.halve_resolution) {
    const std::string factor = flx::knob_factor(FactorInForce(in_force, FLX_KNOB_RESOLUTION_FACTOR) / 2);
    Knob knob{"resolution_halved",
              "half the resolution (resolution_factor " + factor,
              {{FLX_KNOB_RESOLUTION_FACTOR, factor}}};
    if (rung.min_side) {
      knob.phrase += ", sides at least " + std::to_string(*rung.min_side);
      knob.overrides.emplace_back(FLX_KNOB_MIN_SIDE, std::to_string(*rung.min_side));
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
