// lora_options.h — the LoRA keys of a `flux` stage's config:
//   lora_dir: /srv/loras          # where adapters are found: <name>.safetensors
//   lora: [{name: film-grain, scale: 0.8}]   # the set a request gets when it names none
//   lora_cache: 2                 # merged sets kept (each holds the layers it changes)
#ifndef FLX_FLUX_PLUGIN_LORA_OPTIONS_H_
#define FLX_FLUX_PLUGIN_LORA_OPTIONS_H_

#include <cstdint>
#include <flx/plugin.hpp>
#include <string>
#include <vector>

namespace flx::flux {

struct LoraSpec {
  std::string name;
  double scale = 1.0;
};

struct LoraOptions {
  std::string dir;                 // "" = no adapters
  std::vector<LoraSpec> defaults;  // applied when a request names none
  int64_t cache = 2;
};

constexpr int64_t kMaxLoraCache = 64;

// Reads the keys above from a stage config, appending a located message per problem.
LoraOptions read_lora_options(const flx::Config& config, std::vector<std::string>* errors);

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_LORA_OPTIONS_H_
