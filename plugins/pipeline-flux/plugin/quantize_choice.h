// quantize_choice.h — `quantize: auto`: the stage picks, before loading, the least lossy
// quantization whose weights fit memory_budget beside a default-size request.
//
// Candidates, in order: none, q8_0, q6_k, q5_k, q4_k (every component set to auto gets the
// same type; a component given a type keeps it). Each is first tried with every weight held
// at once; only when even q4_k does not fit that way is it tried again with unused components
// released (FluxPipeline::release_unused_weights), because released weights fault back from
// the page cache or the disk on every request. An explicit release_unused_weights fixes that
// choice. When nothing fits, the last candidate is returned with fits = false and the load
// then refuses with what the weights need.
#ifndef FLX_FLUX_PLUGIN_QUANTIZE_CHOICE_H_
#define FLX_FLUX_PLUGIN_QUANTIZE_CHOICE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "io/tensor.h"
#include "model/weights_plan.h"

namespace flx::flux {

struct QuantizeChoice {
  std::optional<DType> transformer;
  std::optional<DType> text_encoder_2;
  bool release_unused = false;  // the fit counts releasing unused components
  bool fits = false;
  // For the start-up log: every candidate tried with the peak weight bytes it needs, and the
  // one chosen against the budget.
  std::string summary;
};

// The weights plan of the model with these quantize-on-load types (FluxPipeline::plan_weights).
using WeightsPlanFor =
    std::function<WeightsPlan(std::optional<DType> transformer, std::optional<DType> t5)>;

// Chooses for the `quantize:` settings `transformer` and `text_encoder_2` ("auto" or a type
// name); at least one must be "auto". `activation_bytes` is what a default-size request
// needs beside the weights at its cheapest knobs; `release_setting` the stage's
// release_unused_weights (nullopt: auto).
QuantizeChoice choose_quantization(const std::string& transformer,
                                   const std::string& text_encoder_2,
                                   std::optional<bool> release_setting, int64_t activation_bytes,
                                   int64_t budget_bytes, const WeightsPlanFor& plan_for);

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_QUANTIZE_CHOICE_H_
