// request_params.h — what one generate() call will do: the request's values, the stage's
// defaults where the request leaves a value open, and the overrides a recovery stage (or the
// CLI) attached, checked against what the model accepts.
#ifndef FLX_FLUX_PLUGIN_REQUEST_PARAMS_H_
#define FLX_FLUX_PLUGIN_REQUEST_PARAMS_H_

#include <flx/flx.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "flux_options.h"

namespace flx::flux {

// The values a request gets when it leaves them open.
struct ModelDefaults {
  int steps = 4;
  // nullopt when the model has no guidance embedding and ignores guidance (schnell-like).
  std::optional<double> guidance;
  int max_sequence_length = 256;
  int64_t width = 1024;
  int64_t height = 1024;
};

// The model-derived defaults (FLUX.1-schnell-like without a guidance embedding: 4 steps, 256
// T5 tokens, guidance ignored; FLUX.1-dev-like with one: 28 steps, guidance 3.5, 512 tokens),
// with every default_* key of `options` taking precedence.
ModelDefaults model_defaults(bool guidance_embeds, const FluxOptions& options);

// One call's effective parameters.
struct ResolvedRequest {
  std::string prompt;
  std::string prompt_2;  // the T5 prompt: the request's prompt_2, else the prompt
  int64_t width = 0;
  int64_t height = 0;
  int steps = 0;
  std::optional<double> guidance;  // nullopt when the model ignores guidance
  int max_sequence_length = 0;
  uint64_t seed = 0;
  int n = 1;
  std::string dump_dir;      // empty: no tensor dump
  bool empty_cache = false;  // release cached device memory before this try
  // Recovery overrides the stage applies itself (stage_settings.h, flux_stage.h), as given;
  // nullopt when the request has none.
  std::optional<std::string> attention_slicing;
  std::optional<bool> vae_tiling;
  std::optional<bool> vae_slicing;
  std::optional<std::string> dtype;
  std::optional<std::string> offload;
  // The recovery overrides this call applies, by key with their last value, for the result's
  // parameters (the effective steps, width and height are reported as such).
  std::map<std::string, std::string> applied_overrides;
};

// Resolves `request`:
//  * width/height 0, steps 0, guidance NaN, max_sequence_length 0 take `defaults`;
//  * a requested width or height must be a multiple of `size_multiple` (2 x the VAE scale
//    factor): otherwise flx::Error INVALID_ARGUMENT with detail "param" = "size" and a message
//    naming the multiple and the nearest valid sizes (nothing is rounded silently);
//  * steps must be 1..1000 and max_sequence_length 1..512 (detail "param" names the field);
//  * the knobs of flx/vocabulary.h in request.overrides (flx::Knobs; a malformed value is
//    INVALID_ARGUMENT naming the key): "steps", "width" and "height" replace the request's
//    values (steps 1..1000, sizes rounded down to the multiple, at least one multiple); the
//    relative ones then scale what the values resolved to (flx::Knobs::scaled_steps,
//    scaled_side); "empty_cache" asks for cached device memory to be released before the
//    try; "vae_tiling", "vae_slicing", "attention_slicing", "dtype" and "offload" are kept
//    as given for the stage to check and apply. Other keys are ignored. The knobs given,
//    except steps, width, height, dtype and offload (reported as effective values by the
//    stage), are listed in applied_overrides;
//  * request.dump_dir (ABI 1.1) asks for every intermediate tensor to be written there.
ResolvedRequest resolve_request(const flx_request& request, const ModelDefaults& defaults,
                                int64_t size_multiple);

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_REQUEST_PARAMS_H_
