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

}  // namespace

QuantizeChoice choose_quantization(const std::string& transformer,
                                   const std::string& text_encoder_2,
                                   std::optional<bool> release_setting, int64_t activation_bytes,
                                   int64_t budget_bytes, const WeightsPlanFor& plan_for) {
  const std::vector<bool> releases =
      release_setting ? std::vector<bool>{*release_setting} : std::vector<bool>{false, true};
  QuantizeChoice choice;
  std::string tried;
  for (const bool release : releases) {
    for (const std::optional<DType> candidate : kAutoLadder) {
      choice.transformer = resolved(transformer, candidate);
      choice.text_encoder_2 = resolved(text_encoder_2, candidate);
      choice.release_unused = release;
      const int64_t peak = plan_for(choice.transformer, choice.text_encoder_2).peak_bytes(release);
      tried += (tried.empty() ? "" : ", ") + quantize_name(candidate) +
               (release ? " released" : "") + " " + format_bytes(peak);
      choice.fits = peak + activation_bytes <= budget_bytes;
      if (choice.fits) break;
    }
    if (choice.fits) break;
  }
  choice.summary = "quantize auto: " +
                   (choice.fits ? std::string("chose ") : std::string("nothing fits, kept ")) +
                   "transformer " + quantize_name(choice.transformer) + ", text_encoder_2 " +
                   quantize_name(choice.text_encoder_2) +
                   (choice.release_unused ? " with unused components released" : "") +
                   " (weights held at once: " + tried + "; with " + format_bytes(activation_bytes) +
                   " for a default request against memory_budget " + format_bytes(budget_bytes) +
                   ")";
  return choice;
}

}  // namespace flx::flux
