#include "config/declared_settings.h"

#include <cctype>
#include <set>

#include "config/scalar.h"

namespace flx {
namespace {

bool IsEnvName(const std::string& name) {
  if (name.empty() || !std::isupper(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isupper(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)) &&
        c != '_') {
      return false;
    }
  }
  return true;
}

bool IsFlagName(const std::string& flag) {
  if (flag.size() < 3 || flag.compare(0, 2, "--") != 0) return false;
  for (size_t i = 2; i < flag.size(); ++i) {
    const char c = flag[i];
    if (!std::islower(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)) &&
        c != '-') {
      return false;
    }
  }
  return true;
}

std::string Text(const char* text) { return text == nullptr ? "" : text; }

StatusOr<DeclaredSetting> ReadOne(const flx_setting* raw, const std::string& where) {
  if (raw == nullptr) return FailedPrecondition(where + " is NULL");
  if (raw->struct_size < offsetof(flx_setting, flags) + sizeof(raw->flags)) {
    return FailedPrecondition(where + ": struct_size " + std::to_string(raw->struct_size) +
                              " is smaller than ABI 1.2's flx_setting");
  }
  if (raw->key == nullptr || *raw->key == '\0') return FailedPrecondition(where + " has no key");
  DeclaredSetting s;
  s.key = raw->key;
  const std::string named = where + " ('" + s.key + "')";
  if (raw->type < FLX_SETTING_STRING || raw->type > FLX_SETTING_BYTES) {
    return FailedPrecondition(named + ": unknown type " + std::to_string(int(raw->type)));
  }
  s.type = raw->type;
  s.env = Text(raw->env);
  s.cli_flag = Text(raw->cli_flag);
  if (!s.env.empty() && !IsEnvName(s.env)) {
    return FailedPrecondition(named + ": variable '" + s.env + "' is not [A-Z][A-Z0-9_]*");
  }
  if (!s.cli_flag.empty() && !IsFlagName(s.cli_flag)) {
    return FailedPrecondition(named + ": flag '" + s.cli_flag + "' is not --[a-z0-9-]+");
  }
  s.value_name = Text(raw->value_name);
  s.help = Text(raw->help);
  if (raw->oneshot_value != nullptr) s.oneshot_value = raw->oneshot_value;
  s.required = (raw->flags & FLX_SETTING_REQUIRED) != 0;
  return s;
}

}  // namespace

StatusOr<std::vector<DeclaredSetting>> ReadDeclaredSettings(const flx_factory& factory,
                                                           const std::string& where) {
  std::vector<DeclaredSetting> out;
  if (!FLX_HAS_FIELD(flx_factory, &factory, settings) || factory.n_settings == 0) return out;
  if (factory.settings == nullptr) {
    return FailedPrecondition(where + ": n_settings is " + std::to_string(factory.n_settings) +
                              " but the settings table is NULL");
  }
  std::set<std::string> keys, variables, flags;
  for (size_t i = 0; i < factory.n_settings; ++i) {
    const std::string at = where + ": setting #" + std::to_string(i);
    StatusOr<DeclaredSetting> setting = ReadOne(factory.settings[i], at);
    if (!setting.ok()) return setting.status();
    const std::string named = at + " ('" + setting->key + "')";
    if (!keys.insert(setting->key).second) return FailedPrecondition(named + ": key repeated");
    if (!setting->env.empty() && !variables.insert(setting->env).second) {
      return FailedPrecondition(named + ": variable '" + setting->env + "' repeated");
    }
    if (!setting->cli_flag.empty() && !flags.insert(setting->cli_flag).second) {
      return FailedPrecondition(named + ": flag '" + setting->cli_flag + "' repeated");
    }
    out.push_back(std::move(*setting));
  }
  return out;
}

std::string NormalizeSettingValue(const DeclaredSetting& setting, const std::string& value) {
  if (setting.type != FLX_SETTING_BOOL) return value;
  StatusOr<bool> parsed = ParseBoolean(value);
  if (!parsed.ok()) return value;
  return *parsed ? "true" : "false";
}

std::string SettingsHelp(const std::vector<DeclaredSetting>& settings) {
  std::string text;
  for (const DeclaredSetting& s : settings) {
    if (s.cli_flag.empty()) continue;
    std::string left = "  " + s.cli_flag + (s.value_name.empty() ? "" : " " + s.value_name);
    if (left.size() < 28) left.resize(28, ' ');
    text += left + " " + s.help + (s.env.empty() ? "" : " [" + s.env + "]") + "\n";
  }
  return text;
}

}  // namespace flx
