// quantize_choice.h — `quantize: auto` and `offload: auto`: the stage picks, before loading,
// the least lossy quantization and the least costly residency whose weights fit
// memory_budget beside a default-size request.
//
// Quantization candidates, in order: none, q8_0, q6_k, q5_k, q4_k (every component set to
// auto gets the same type; a component given a type keeps it).
// On the CPU each is first tried with every weight held at once; only when even q4_k does not
// fit that way is it tried again with unused components released
// (FluxPipeline::release_unused_weights), because released weights fault back from the page
// cache or the disk on every request. An explicit release_unused_weights fixes that choice.
// On an accelerator the budget is the device's, and with offload: auto each type is tried
// with offload none, then model, before the next type: model moves each component over once
// per request (a second or two for FLUX.1 over PCIe 4), cheaper than a coarser type costs in
// quality; sequential, which streams every block over on every step, comes only after every
// type failed with the other two. offload: auto on the CPU is none.
// When nothing fits, the last candidate is returned with fits = false and the load then
// refuses with what the weights need.
#ifndef FLX_FLUX_PLUGIN_QUANTIZE_CHOICE_H_
#define FLX_FLUX_PLUGIN_QUANTIZE_CHOICE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "io/tensor.h"
#include "model/offload_planner.h"
#include "model/weights_plan.h"

namespace flx::flux {

// What the operator set.
struct ResidencySettings {
  std::string transformer = "none";  // quantize: "auto" or a type name
  std::string text_encoder_2 = "none";
  std::optional<bool> release_unused;        // release_unused_weights; nullopt: auto
  OffloadMode offload = OffloadMode::kNone;  // kAuto lets the choice decide
  bool accelerator = false;                  // the budget is an accelerator's memory
  // Whether there is anything to choose: a quantize auto, or offload auto.
  bool has_auto() const;
};

struct QuantizeChoice {
  std::optional<DType> transformer;
  std::optional<DType> text_encoder_2;
  OffloadMode offload = OffloadMode::kNone;
  bool release_unused = false;  // the fit counts releasing unused components
  bool fits = false;
  // For the start-up log: every candidate tried with the peak weight bytes it needs, and the
  // one chosen against the budget.
  std::string summary;
};

// The weights plan of the model with these quantize-on-load types (FluxPipeline::plan_weights).
using WeightsPlanFor =
    std::function<WeightsPlan(std::optional<DType> transformer, std::optional<DType> t5)>;

// Chooses for `settings` (settings.has_auto() must hold). `activation_bytes` is what a
// default-size request needs beside the weights at its cheapest knobs.
QuantizeChoice choose_quantization(const ResidencySettings& settings, int64_t activation_bytes,
                                   int64_t budget_bytes, const WeightsPlanFor& plan_for);

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_QUANTIZE_CHOICE_H_
