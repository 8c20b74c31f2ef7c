// memory_plan.h — the memory a `flux` stage may use, and whether one request fits it.
//
// `memory_budget` (auto or a size such as "16GiB") bounds what a generation may hold: the
// weights of the loaded model, the merged layers of its LoRA set (lora_library.h) and the
// activations of its widest phase (model/memory_estimate.h); merged sets kept for later
// requests get what is left. auto is 85% of the memory the device has: on the CPU the
// smaller of MemTotal (/proc/meminfo) and the process's cgroup limit, on a CUDA device its
// total memory. A request whose estimate exceeds the budget is refused before it starts
// (OUT_OF_RANGE, param "size", or "lora" when only its LoRA set does not fit: 400 over HTTP),
// or, with `over_budget: fit`, runs with the first of attention_slicing auto, then also
// vae_tiling, then attention_slicing max that brings it within the budget (reported in its
// parameters as memory_fit).
//
// `buffer_pool_idle_max` (auto or a size) caps the idle memory the CPU buffer pool keeps
// between requests (model/cpu_buffer_pool.h); auto is a quarter of the budget.
//
// `max_pixels` (default 4096 x 4096) refuses larger images outright, whatever the budget.
#ifndef FLX_FLUX_PLUGIN_MEMORY_PLAN_H_
#define FLX_FLUX_PLUGIN_MEMORY_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/memory_estimate.h"

namespace flx::flux {

// "auto" gives nullopt; otherwise a positive size: an integer or decimal number of bytes with
// an optional unit B, kB/KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of
// 1024), case-insensitive, optionally after a space. Throws std::invalid_argument naming
// `key` and the value otherwise.
std::optional<int64_t> parse_byte_size(const std::string& key, const std::string& value);

// "1.50 GiB", "512.0 MiB", "900 B": for messages.
std::string format_bytes(int64_t bytes);

// The smaller of MemTotal in `meminfo_path` and the cgroup limit in the given files (cgroup v2
// memory.max, v1 memory.limit_in_bytes; "max" or an absurdly large v1 value mean none);
// 0 when none can be read.
int64_t machine_memory_bytes(const std::string& meminfo_path = "/proc/meminfo",
                             const std::vector<std::string>& cgroup_limit_files = {
                                 "/sys/fs/cgroup/memory.max",
                                 "/sys/fs/cgroup/memory/memory.limit_in_bytes"});

struct MemoryBudget {
  int64_t budget_bytes = 0;
  std::string budget_reason;  // "auto: 85% of 23.4 GiB (cpu memory)" or "memory_budget"
  int64_t pool_idle_max_bytes = 0;
  std::string pool_idle_reason;
};

// Resolves the two settings (as written, "auto" or a size) against `device_bytes`, the memory
// of the device the stage computes on. Throws std::invalid_argument naming the key.
MemoryBudget resolve_memory_budget(const std::string& memory_budget,
                                   const std::string& buffer_pool_idle_max, int64_t device_bytes,
                                   const std::string& device_name);

// What fit_request() decided for one request.
struct FitDecision {
  bool fits = false;
  AttentionOptions attention;  // the knobs to run with (the request's, or adjusted)
  VaeDecodeOptions vae;
  ActivationEstimate estimate;
  std::string adjustment;  // "" when the request's knobs fit as they are, else what changed
};

// Whether weights + the activation estimate of `inputs` fit `budget_bytes`; with `fit`, tries
// the cheaper knobs described above in order. `estimate` maps inputs to their estimate.
template <typename EstimateFn>
FitDecision fit_request(const EstimateInputs& inputs, int64_t weights_bytes, int64_t budget_bytes,
                        bool fit, EstimateFn estimate);

// The refusal message for a request that does not fit.
std::string over_budget_message(int64_t width, int64_t height, int64_t weights_bytes,
                                const ActivationEstimate& estimate, int64_t budget_bytes,
                                bool tried_fit);

// The refusal message for a request that would fit without its LoRA set's merged layers
// (`lora_bytes`) but not with them; `set` is the set as the result's `lora` parameter shows it.
std::string lora_over_budget_message(const std::string& set, int64_t lora_bytes,
                                     int64_t weights_bytes, const ActivationEstimate& estimate,
                                     int64_t budget_bytes);

// ---- implementation of the template ----

template <typename EstimateFn>
FitDecision fit_request(const EstimateInputs& inputs, int64_t weights_bytes, int64_t budget_bytes,
                        bool fit, EstimateFn estimate) {
  auto attempt = [&](const EstimateInputs& candidate, const std::string& adjustment) {
    FitDecision d;
    d.attention = candidate.attention;
    d.vae = candidate.vae;
    d.estimate = estimate(candidate);
    d.fits = weights_bytes + d.estimate.peak_bytes() <= budget_bytes;
    d.adjustment = adjustment;
    return d;
  };
  FitDecision first = attempt(inputs, "");
  if (first.fits || !fit) return first;
  EstimateInputs cheaper = inputs;
  cheaper.attention.slicing = AttentionOptions::Slicing::kAuto;
  FitDecision d = attempt(cheaper, "attention_slicing=auto");
  if (d.fits) return d;
  cheaper.vae.tiling = true;
  d = attempt(cheaper, "attention_slicing=auto,vae_tiling=true");
  if (d.fits) return d;
  cheaper.attention.slicing = AttentionOptions::Slicing::kMax;
  d = attempt(cheaper, "attention_slicing=max,vae_tiling=true");
  if (d.fits) return d;
  first.adjustment = d.adjustment;  // what was tried last, for the message
  first.estimate = d.estimate;
  return first;
}

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_MEMORY_PLAN_H_
