#include "lora_options.h"

#include <cmath>

namespace flx::flux {
namespace {

// One {name, scale} entry of `lora`, or a message.
void read_entry(const flx::Config& entry, size_t index, LoraOptions* options,
                std::vector<std::string>* errors) {
  const std::string at = "lora[" + std::to_string(index) + "]";
  const std::optional<std::string> name = entry.string("name");
  if (!name || name->empty() || name->find('/') != std::string::npos) {
    errors->push_back(
        entry.error(at + ".name is required: a file name in lora_dir without .safetensors").what());
    return;
  }
  const double scale = entry.number("scale").value_or(1.0);
  if (!std::isfinite(scale) || std::fabs(scale) > 100) {
    errors->push_back(entry.error(at + ".scale must be a number between -100 and 100").what());
    return;
  }
  options->defaults.push_back({*name, scale});
}

bool is_scalar(const flx::Config& config, const char* key) {
  try {
    return config.string(key).has_value();
  } catch (const flx::Error&) {
    return false;
  }
}

}  // namespace

LoraOptions read_lora_options(const flx::Config& config, std::vector<std::string>* errors) {
  LoraOptions options;
  try {
    options.dir = config.string("lora_dir").value_or("");
    const int64_t cache = config.integer("lora_cache").value_or(options.cache);
    if (cache < 1 || cache > kMaxLoraCache) {
      errors->push_back(config
                            .error("lora_cache must be between 1 and " +
                                   std::to_string(kMaxLoraCache) + ", got " + std::to_string(cache))
                            .what());
    } else {
      options.cache = cache;
    }
    const flx::Config list = config.node("lora");
    if (list && list.size() == 0 && (!list.keys().empty() || is_scalar(config, "lora"))) {
      errors->push_back(list.error("lora must be a list of {name, scale}").what());
      return options;
    }
    for (size_t i = 0; i < list.size(); ++i) read_entry(list.at(i), i, &options, errors);
  } catch (const flx::Error& e) {
    errors->push_back(e.what());
  }
  if (!options.defaults.empty() && options.dir.empty()) {
    errors->push_back(config.error("lora names adapters but lora_dir is not set").what());
  }
  return options;
}

}  // namespace flx::flux
