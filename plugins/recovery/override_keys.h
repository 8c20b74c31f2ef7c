// The overrides a `ladder` recovery stage sends to the pipeline: the contract between this
// policy and every pipeline. Keys and values are strings in flx_request.overrides; a pipeline
// applies the keys it implements, ignores the others, and reports what it used through
// result_set_param so the client sees the parameters it actually got.
//
//   key                value                          meaning for the next try
//   empty_cache        "true"                         free cached device memory first
//   attention_slicing  "off" | "auto" | "max" | "N"   compute attention in slices
//   vae_tiling         "true" | "false"               decode the latents tile by tile
//   vae_slicing        "true" | "false"               decode the batch one image at a time
//   offload            "none" | "model" | "sequential" move weights off the device when idle
//   dtype              "float32" | "float16" | "bfloat16"  compute dtype (MPS fp16 failures)
//   steps_factor       decimal in (0, 1], e.g. "0.25" scale the step count
//   min_steps          decimal integer >= 1           lower bound for the scaled step count
//   resolution_factor  decimal in (0, 1], e.g. "0.5"  scale width and height
//   min_side           decimal integer >= 1           lower bound for each scaled side
//
// Halving is relative because the policy does not know the pipeline's defaults, and
// cumulative: a second steps-halving rung reads steps_factor "0.5" from the request's
// overrides and sends "0.25". The pipeline applies the factors to the values it would
// otherwise use (request value, else its default), with `granularity` its size multiple:
//
//   steps = min(steps, max(min_steps or 1, round(steps * steps_factor)))
//   side  = min(side, max(lower, floor(side * resolution_factor / granularity) * granularity))
//           where lower = min_side rounded up to a multiple of granularity, or granularity
//
// so scaling never raises a value the request already had below the bound.
#ifndef FLX_PLUGINS_RECOVERY_OVERRIDE_KEYS_H_
#define FLX_PLUGINS_RECOVERY_OVERRIDE_KEYS_H_

namespace flx::recovery {

inline constexpr char kEmptyCache[] = "empty_cache";
inline constexpr char kAttentionSlicing[] = "attention_slicing";
inline constexpr char kVaeTiling[] = "vae_tiling";
inline constexpr char kVaeSlicing[] = "vae_slicing";
inline constexpr char kOffload[] = "offload";
inline constexpr char kDtype[] = "dtype";
inline constexpr char kStepsFactor[] = "steps_factor";
inline constexpr char kMinSteps[] = "min_steps";
inline constexpr char kResolutionFactor[] = "resolution_factor";
inline constexpr char kMinSide[] = "min_side";

}  // namespace flx::recovery

#endif  // FLX_PLUGINS_RECOVERY_OVERRIDE_KEYS_H_
