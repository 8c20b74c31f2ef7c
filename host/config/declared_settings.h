// declared_settings.h — the operator settings a plugin factory declares (flx_setting, ABI
// 1.2), read and checked once when the plugin loads, so the host can apply environment
// variables and `fluxserve generate` flags to any plugin's config without knowing it.
#ifndef FLX_HOST_CONFIG_DECLARED_SETTINGS_H_
#define FLX_HOST_CONFIG_DECLARED_SETTINGS_H_

#include <flx/flx.h>

#include <optional>
#include <string>
#include <vector>

#include "status.h"

namespace flx {

struct DeclaredSetting {
  std::string key;
  flx_setting_type type = FLX_SETTING_STRING;
  std::string env;            // "" when none
  std::string cli_flag;       // "" when none
  std::string value_name;     // "" when none
  std::string help;
  std::optional<std::string> oneshot_value;
  bool required = false;      // FLX_SETTING_REQUIRED
};

// The settings `factory` declares, in its order; empty for a factory built before ABI 1.2.
// FAILED_PRECONDITION naming `where`, the setting and the rule when one is malformed: a NULL
// entry or key, a repeated key, variable or flag, a variable outside [A-Z][A-Z0-9_]*, a flag
// that is not "--" and [a-z0-9-], an unknown type.
StatusOr<std::vector<DeclaredSetting>> ReadDeclaredSettings(const flx_factory& factory,
                                                           const std::string& where);

// `value` as the stage should see it: booleans written 1/0, yes/no, on/off or true/false
// (any case) become "true"/"false"; anything else is passed on for the stage to judge.
std::string NormalizeSettingValue(const DeclaredSetting& setting, const std::string& value);

// The --help lines for `settings` that have a flag: "  --dtype D   help".
std::string SettingsHelp(const std::vector<DeclaredSetting>& settings);

}  // namespace flx

#endif  // FLX_HOST_CONFIG_DECLARED_SETTINGS_H_
