// Environment variables that override keys of a stage's config, so an operator can switch a
// device or a memory knob for one run without editing YAML. The host knows no variable
// itself: each plugin factory declares its own (flx_setting.env, declared_settings.h), e.g.
// the flux pipeline's FLUX_DEVICE -> device, FLUX_DTYPE -> dtype, FLUX_VAE_TILING ->
// vae_tiling. The environment (and .env) wins over the YAML. Empty variables are ignored.
#ifndef FLX_HOST_CONFIG_ENV_OVERRIDES_H_
#define FLX_HOST_CONFIG_ENV_OVERRIDES_H_

#include <string>
#include <vector>

#include "config/declared_settings.h"
#include "config/environment.h"
#include "config/graph_config.h"

namespace flx {

// Sets, in `stage`'s config, the key of each of `settings` whose variable is set and not
// empty (booleans normalized, NormalizeSettingValue). Returns one line per override
// applied, e.g. "FLUX_DEVICE=cpu overrides stages[1].config.device ('auto')".
std::vector<std::string> ApplyEnvOverrides(const Environment& env,
                                           const std::vector<DeclaredSetting>& settings,
                                           StageConfig* stage);

}  // namespace flx

#endif  // FLX_HOST_CONFIG_ENV_OVERRIDES_H_
