// Environment variables that override keys of every pipeline stage's config, so an operator
// can switch a device or a memory knob for one run without editing YAML:
//
//   FLUX_DEVICE -> device            FLUX_ATTENTION_SLICING -> attention_slicing
//   FLUX_DTYPE -> dtype              FLUX_VAE_SLICING -> vae_slicing
//   FLUX_THREADS -> threads          FLUX_VAE_TILING -> vae_tiling
//   FLUX_OFFLOAD -> offload          FLUX_WARMUP_ENABLE -> warmup
//
// The environment (and .env) wins over the YAML. Empty variables are ignored.
#ifndef FLX_HOST_CONFIG_ENV_OVERRIDES_H_
#define FLX_HOST_CONFIG_ENV_OVERRIDES_H_

#include <string>
#include <utility>
#include <vector>

#include "config/environment.h"
#include "config/graph_config.h"

namespace flx {

// The (variable, config key) pairs above.
const std::vector<std::pair<std::string, std::string>>& PipelineEnvOverrides();

// Sets each overridden key in the config of every pipeline stage. Returns one line per
// override applied, e.g. "FLUX_DEVICE=cpu overrides stages[1].config.device ('auto')".
std::vector<std::string> ApplyPipelineEnvOverrides(const Environment& env, GraphConfig* config);

}  // namespace flx

#endif  // FLX_HOST_CONFIG_ENV_OVERRIDES_H_
