#include "config/env_overrides.h"

namespace flx {

const std::vector<std::pair<std::string, std::string>>& PipelineEnvOverrides() {
  static const std::vector<std::pair<std::string, std::string>> kOverrides = {
      {"FLUX_DEVICE", "device"},
      {"FLUX_DTYPE", "dtype"},
      {"FLUX_THREADS", "threads"},
      {"FLUX_ATTENTION_SLICING", "attention_slicing"},
      {"FLUX_VAE_SLICING", "vae_slicing"},
      {"FLUX_VAE_TILING", "vae_tiling"},
      {"FLUX_OFFLOAD", "offload"},
      {"FLUX_WARMUP_ENABLE", "warmup"},
  };
  return kOverrides;
}

std::vector<std::string> ApplyPipelineEnvOverrides(const Environment& env, GraphConfig* config) {
  std::vector<std::string> applied;
  for (const auto& [variable, key] : PipelineEnvOverrides()) {
    auto value = env.Get(variable);
    if (!value || value->empty()) continue;
    for (StageConfig& stage : config->stages) {
      if (stage.kind != FLX_KIND_PIPELINE) continue;
      if (!stage.config.IsMap()) stage.config = YAML::Node(YAML::NodeType::Map);
      YAML::Node node = stage.config[key];
      std::string before = node.IsScalar() ? "'" + node.Scalar() + "'" : "unset";
      node = *value;
      applied.push_back(variable + "=" + *value + " overrides " + stage.path + ".config." + key +
                        " (" + before + ")");
    }
  }
  return applied;
}

}  // namespace flx
