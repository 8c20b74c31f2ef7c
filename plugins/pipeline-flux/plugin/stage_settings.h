// stage_settings.h — a `flux` stage's device, dtype, threads, attention, VAE and offload
// settings (flux_options.h) resolved against this machine and this libtorch, and the
// per-request memory knobs: the stage's defaults with a recovery stage's overrides applied.
#ifndef FLX_FLUX_PLUGIN_STAGE_SETTINGS_H_
#define FLX_FLUX_PLUGIN_STAGE_SETTINGS_H_

#include <cstdint>
#include <flx/plugin.hpp>
#include <string>
#include <vector>

#include "flux_options.h"
#include "memory_plan.h"
#include "model/attention.h"
#include "model/autoencoder_kl.h"
#include "model/device_selection.h"
#include "model/offload_planner.h"
#include "request_params.h"

namespace flx::flux {

struct StageSettings {
  DeviceChoice device;
  ThreadChoice threads;
  AttentionOptions attention;
  VaeDecodeOptions vae;
  OffloadMode offload = OffloadMode::kNone;
  MemoryBudget memory;
};

// Resolves device and dtype (select_device_dtype), threads (select_threads),
// attention_slicing (parse_attention_slicing), offload (parse_offload_mode) and the memory
// budget (memory_plan.h; `cpu_memory_bytes` is the machine's memory) of `options` against
// `hardware`, and copies the VAE settings. Every value the model layer refuses adds
// its message (which names the key and value), located at `config`, to `errors`; the field
// then keeps its default. The tile geometry is checked by check_stage_vae_tiling() once the
// model's VAE scale factor is known.
StageSettings resolve_stage_settings(const FluxOptions& options, const HardwareInfo& hardware,
                                     const flx::Config& config, std::vector<std::string>* errors,
                                     int64_t cpu_memory_bytes = machine_memory_bytes());

// The memory of the device `choice` computes on: a CUDA device's own, else the machine's
// (MPS shares it); 0 when unknown.
int64_t device_memory_bytes(const DeviceChoice& choice, const HardwareInfo& hardware,
                            int64_t cpu_memory_bytes);

// Throws flx::Error INVALID_ARGUMENT located at `config`, naming vae_tile_size or
// vae_tile_overlap, unless `vae`'s tile geometry suits a VAE of `scale_factor` pixels per
// latent. Checked whether or not vae_tiling is on, because a recovery override can turn it on.
void check_stage_vae_tiling(const VaeDecodeOptions& vae, int64_t scale_factor,
                            const flx::Config& config);

// The memory knobs of one call: the stage's attention and VAE settings, replaced by the
// request's attention_slicing, vae_tiling and vae_slicing overrides when present. A malformed
// attention_slicing override throws flx::Error INVALID_ARGUMENT with detail "param" =
// "attention_slicing".
struct CallKnobs {
  AttentionOptions attention;
  VaeDecodeOptions vae;
};
CallKnobs call_knobs(const StageSettings& settings, const ResolvedRequest& request);

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_STAGE_SETTINGS_H_
