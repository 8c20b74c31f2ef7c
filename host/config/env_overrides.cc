#include "config/env_overrides.h"

namespace flx {

std::vector<std::string> ApplyEnvOverrides(const Environment& env,
                                           const std::vector<DeclaredSetting>& settings,
                                           StageConfig* stage) {
  std::vector<std::string> applied;
  for (const DeclaredSetting& setting : settings) {
    if (setting.env.empty()) continue;
    const std::optional<std::string> value = env.Get(setting.env);
    if (!value || value->empty()) continue;
    if (!stage->config.IsMap()) stage->config = YAML::Node(YAML::NodeType::Map);
    YAML::Node node = stage->config[setting.key];
    const std::string before = node.IsScalar() ? "'" + node.Scalar() + "'" : "unset";
    node = NormalizeSettingValue(setting, *value);
    applied.push_back(setting.env + "=" + *value + " overrides " + stage->path + ".config." +
                      setting.key + " (" + before + ")");
  }
  return applied;
}

}  // namespace flx
