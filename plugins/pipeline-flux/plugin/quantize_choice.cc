#include "quantize_choice.h"

#include <vector>

#include "flux_options.h"
#include "memory_plan.h"

namespace flx::flux {

namespace {

// Least lossy first.
const std::vector<std::optional<DType>> kAutoLadder = {std::nullopt, DType::Q8_0, DType::Q6_K,
                                                       DType::Q5_K, DType::Q4_K};

std::optional<DType> resolved(const std::string& setting, std::optional<DType> candidate) {
  return setting == "auto" ? candidate : quantize_dtype(setting);
}

struct Candidate {
  std::optional<DType> quantize;  // for the components set to auto
  OffloadMode offload;
  bool release;
};

// Offload tiers in order of cost: within a tier every type is tried with each mode in turn.
std::vector<std::vector<OffloadMode>> offload_tiers(const ResidencySettings& settings) {
  if (!settings.accelerator) return {{OffloadMode::kNone}};
  if (settings.offload != OffloadMode::kAuto) return {{settings.offload}};
  return {{OffloadMode::kNone, OffloadMode::kModel}, {OffloadMode::kSequential}};
}

bool quantize_auto(const ResidencySettings& settings) {
  return settings.transformer == "auto" || settings.text_encoder_2 == "auto";
}

bool offload_auto(const ResidencySettings& settings) {
  return settings.accelerator && settings.offload == OffloadMode::kAuto;
}

// "q8_0", "q8_0/model", "model", "q8_0 released": what varies between candidates.
std::string label(const ResidencySettings& settings, const Candidate& candidate) {
  std::string text = quantize_auto(settings) ? quantize_name(candidate.quantize) : "";
  if (offload_auto(settings)) {
    text += (text.empty() ? "" : "/") + std::string(offload_mode_name(candidate.offload));
  }
  if (text.empty()) text = "as set";
  return text + (candidate.release ? " released" : "");
}

std::vector<Candidate> candidates(const ResidencySettings& settings) {
  const std::vector<std::optional<DType>> types =
      quantize_auto(settings) ? kAutoLadder : std::vector<std::optional<DType>>{std::nullopt};
  // Releasing gives back host pages; it never shrinks what an accelerator holds.
  std::vector<bool> releases{settings.release_unused.value_or(false)};
  if (!settings.release_unused && !settings.accelerator) releases.push_back(true);
  std::vector<Candidate> out;
  for (const bool release : releases) {
    for (const std::vector<OffloadMode>& tier : offload_tiers(settings)) {
      for (const std::optional<DType>& type : types) {
        for (const OffloadMode offload : tier) out.push_back({type, offload, release});
      }
    }
  }
  return out;
}

}  // namespace

bool ResidencySettings::has_auto() const {
  return transformer == "auto" || text_encoder_2 == "auto" || offload == OffloadMode::kAuto;
}

QuantizeChoice choose_quantization(const ResidencySettings& settings, int64_t activation_bytes,
                                   int64_t budget_bytes, const WeightsPlanFor& plan_for) {
  const bool offload_chosen = offload_auto(settings);
  QuantizeChoice choice;
  std::string tried;
  for (const Candidate& candidate : candidates(settings)) {
    choice.transformer = resolved(settings.transformer, candidate.quantize);
    choice.text_encoder_2 = resolved(settings.text_encoder_2, candidate.quantize);
    choice.offload = settings.accelerator ? candidate.offload : OffloadMode::kNone;
    choice.release_unused = candidate.release;
    const int64_t peak = plan_for(choice.transformer, choice.text_encoder_2)
                             .peak_bytes(choice.offload, choice.release_unused);
    tried += (tried.empty() ? "" : ", ") + label(settings, candidate) + " " + format_bytes(peak);
    choice.fits = peak + activation_bytes <= budget_bytes;
    if (choice.fits) break;
  }
  const std::string what = offload_chosen ? "residency auto: " : "quantize auto: ";
  choice.summary =
      what + (choice.fits ? "chose " : "nothing fits, kept ") + "transformer " +
      quantize_name(choice.transformer) + ", text_encoder_2 " +
      quantize_name(choice.text_encoder_2) +
      (offload_chosen ? std::string(", offload ") + offload_mode_name(choice.offload) : "") +
      (choice.release_unused ? " with unused components released" : "") + " (weights " +
      (settings.accelerator ? "on the accelerator" : "held") + " at once: " + tried + "; with " +
      format_bytes(activation_bytes) + " for a default request against memory_budget " +
      format_bytes(budget_bytes) + ")";
  return choice;
}

}  // namespace flx::flux
