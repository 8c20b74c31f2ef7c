#include "flux_options.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

namespace flx::flux {
namespace {

constexpr double kMaxGuidance = 100;

// Reads keys one by one and keeps every problem, so a config is fixed in one pass.
class OptionReader {
 public:
  explicit OptionReader(const flx::Config& config) : config_(config) {}

  std::optional<std::string> text(const char* key) {
    try {
      return config_.string(key);
    } catch (const flx::Error& e) {
      errors_.push_back(e.what());
      return std::nullopt;
    }
  }

  std::optional<bool> boolean(const char* key) {
    try {
      return config_.boolean(key);
    } catch (const flx::Error& e) {
      errors_.push_back(e.what());
      return std::nullopt;
    }
  }

  std::optional<int64_t> integer(const char* key, int64_t min, int64_t max) {
    try {
      std::optional<int64_t> value = config_.integer(key);
      if (value && (*value < min || *value > max)) {
        fail(std::string(key) + " must be between " + std::to_string(min) + " and " +
             std::to_string(max) + ", got " + std::to_string(*value));
        return std::nullopt;
      }
      return value;
    } catch (const flx::Error& e) {
      errors_.push_back(e.what());
      return std::nullopt;
    }
  }

  std::optional<double> number(const char* key, double min, double max) {
    try {
      std::optional<double> value = config_.number(key);
      if (value && (!std::isfinite(*value) || *value < min || *value > max)) {
        fail(std::string(key) + " must be between " + format(min) + " and " + format(max) +
             ", got " + format(*value));
        return std::nullopt;
      }
      return value;
    } catch (const flx::Error& e) {
      errors_.push_back(e.what());
      return std::nullopt;
    }
  }

  // One of `choices`; `fallback` when absent. `note` is added to the complaint.
  std::string choice(const char* key, const std::vector<std::string>& choices,
                     const std::string& fallback, const std::string& note = "") {
    std::optional<std::string> value = text(key);
    if (!value) return fallback;
    if (std::find(choices.begin(), choices.end(), *value) != choices.end()) return *value;
    std::string listed;
    for (const std::string& c : choices) listed += (listed.empty() ? "" : ", ") + c;
    fail(std::string(key) + " must be one of " + listed + note + ", got \"" + *value + "\"");
    return fallback;
  }

  void fail(const std::string& message) { errors_.push_back(config_.error(message).what()); }

  // Takes messages that are already located.
  void add_errors(const std::vector<std::string>& messages) {
    errors_.insert(errors_.end(), messages.begin(), messages.end());
  }

  const std::vector<std::string>& errors() const { return errors_; }

 private:
  static std::string format(double value) {
    char text[32];
    std::snprintf(text, sizeof(text), "%g", value);
    return text;
  }

  const flx::Config& config_;
  std::vector<std::string> errors_;
};

}  // namespace

const char* load_mode_name(LoadMode mode) { return mode == LoadMode::kEager ? "eager" : "lazy"; }

const char* progress_mode_name(ProgressMode mode) {
  switch (mode) {
    case ProgressMode::kOff: return "off";
    case ProgressMode::kLog: return "log";
    case ProgressMode::kBar: return "bar";
  }
  return "off";
}


FluxOptions read_flux_options(const flx::Config& config) {
  std::vector<std::string> errors;
  FluxOptions options = read_flux_options(config, &errors);
  flx::throw_config_errors(errors);
  return options;
}

namespace {

const std::vector<std::string> kQuantizeTypes = {"none", "q8_0", "q4_k", "q5_k", "q6_k", "fp8",
                                                  "auto"};

// One `quantize:` value, checked; nullopt (with an error located at `where`) when unknown.
std::optional<std::string> quantize_value(const flx::Config& where, const std::string& value,
                                          const std::string& key,
                                          std::vector<std::string>* errors) {
  if (std::find(kQuantizeTypes.begin(), kQuantizeTypes.end(), value) != kQuantizeTypes.end()) {
    return value;
  }
  errors->push_back(where
                        .error(key + " must be one of none, q8_0, q4_k, q5_k, q6_k, fp8, auto, " +
                               "got \"" + value + "\"")
                        .what());
  return std::nullopt;
}

// quantize: TYPE (transformer and T5) or {transformer: TYPE, text_encoder_2: TYPE}.
void read_quantize(const flx::Config& config, FluxOptions* options,
                   std::vector<std::string>* errors) {
  std::optional<std::string> scalar;
  try {
    scalar = config.string("quantize");
  } catch (const flx::Error&) {
    // Not a scalar: the per-component map, read below.
  }
  if (scalar) {
    if (auto value = quantize_value(config, *scalar, "quantize", errors)) {
      options->quantize_transformer = options->quantize_text_encoder_2 = *value;
    }
    return;
  }
  flx::Config node;
  try {
    node = config.node("quantize");
  } catch (const flx::Error& e) {
    errors->push_back(e.what());
    return;
  }
  if (!node) return;
  if (node.size() > 0 || node.keys().empty()) {
    errors->push_back(node.error("quantize must be a type (none, q8_0, q4_k, q5_k, q6_k, fp8, "
                                 "auto) or a map {transformer: TYPE, text_encoder_2: TYPE}")
                          .what());
    return;
  }
  for (const std::string& key : node.keys()) {
    const std::string path = "quantize." + key;
    if (key != "transformer" && key != "text_encoder_2") {
      errors->push_back(
          node.error(path + ": unknown component (transformer, text_encoder_2)").what());
      continue;
    }
    try {
      const std::string text = node.string(key.c_str()).value_or("none");
      if (auto value = quantize_value(node, text, path, errors)) {
        (key == "transformer" ? options->quantize_transformer : options->quantize_text_encoder_2) =
            *value;
      }
    } catch (const flx::Error& e) {
      errors->push_back(e.what());
    }
  }
}

}  // namespace

std::optional<DType> quantize_dtype(const std::string& name) {
  if (name == "q8_0") return DType::Q8_0;
  if (name == "q4_k") return DType::Q4_K;
  if (name == "q5_k") return DType::Q5_K;
  if (name == "q6_k") return DType::Q6_K;
  if (name == "fp8") return DType::F8_E4M3;
  return std::nullopt;
}

std::string quantize_name(std::optional<DType> type) {
  if (!type) return "none";
  switch (*type) {
    case DType::Q8_0: return "q8_0";
    case DType::Q4_K: return "q4_k";
    case DType::Q5_K: return "q5_k";
    case DType::Q6_K: return "q6_k";
    case DType::F8_E4M3: return "fp8";
    default: return dtype_name(*type);
  }
}

FluxOptions read_flux_options(const flx::Config& config, std::vector<std::string>* errors) {
  FluxOptions options;
  OptionReader reader(config);

  const std::optional<std::string> model = reader.text("model");
  if (!model || model->empty()) {
    reader.fail(model ? "model must not be empty"
                      : "model is required: a diffusers folder, a Hugging Face repo id or a "
                        ".safetensors file");
  } else {
    options.model = *model;
  }
  options.base = reader.text("base").value_or("");
  options.text_encoder_2_file = reader.text("text_encoder_2_file").value_or("");
  options.load = reader.choice("load", {"eager", "lazy"}, "eager") == "lazy" ? LoadMode::kLazy
                                                                             : LoadMode::kEager;
  options.warmup = reader.boolean("warmup").value_or(true);
  options.device = reader.text("device").value_or(options.device);
  options.dtype = reader.text(FLX_KNOB_DTYPE).value_or(options.dtype);
  options.threads = reader.text("threads").value_or(options.threads);
  options.attention_slicing =
      reader.text(FLX_KNOB_ATTENTION_SLICING).value_or(options.attention_slicing);
  options.vae_slicing = reader.boolean(FLX_KNOB_VAE_SLICING).value_or(options.vae_slicing);
  options.vae_tiling = reader.boolean(FLX_KNOB_VAE_TILING).value_or(options.vae_tiling);
  options.vae_tile_size =
      reader.integer("vae_tile_size", 1, kMaxSide).value_or(options.vae_tile_size);
  options.vae_tile_overlap =
      reader.integer("vae_tile_overlap", 0, kMaxSide).value_or(options.vae_tile_overlap);
  options.offload = reader.text(FLX_KNOB_OFFLOAD).value_or(options.offload);
  options.override_variants = reader.integer("override_variants", 0, kMaxOverrideVariants)
                                  .value_or(options.override_variants);
  options.buffer_pool = reader.boolean("buffer_pool").value_or(options.buffer_pool);
  options.text_cache_size =
      reader.integer("text_cache_size", 0, kMaxTextCacheSize).value_or(options.text_cache_size);
  const std::string progress = reader.choice("progress", {"off", "log", "bar"}, "off");
  options.progress = progress == "log"   ? ProgressMode::kLog
                     : progress == "bar" ? ProgressMode::kBar
                                         : ProgressMode::kOff;

  if (auto steps = reader.integer("default_steps", 1, kMaxSteps)) {
    options.default_steps = static_cast<int>(*steps);
  }
  options.default_guidance = reader.number("default_guidance", 0, kMaxGuidance);
  if (auto length = reader.integer("default_max_sequence_length", 1, kMaxSequenceLengthLimit)) {
    options.default_max_sequence_length = static_cast<int>(*length);
  }
  options.default_width = reader.integer("default_width", 1, kMaxSide).value_or(1024);
  options.default_height = reader.integer("default_height", 1, kMaxSide).value_or(1024);
  options.memory_budget = reader.text("memory_budget").value_or(options.memory_budget);
  options.over_budget_fit = reader.choice("over_budget", {"refuse", "fit"}, "refuse") == "fit";
  if (reader.text("release_unused_weights").value_or("auto") != "auto") {
    options.release_unused_weights = reader.boolean("release_unused_weights");
  }
  options.max_pixels =
      reader.integer("max_pixels", 1, kMaxSide * kMaxSide).value_or(options.max_pixels);
  options.buffer_pool_idle_max =
      reader.text("buffer_pool_idle_max").value_or(options.buffer_pool_idle_max);
  std::vector<std::string> fault_injection_errors;
  options.fault_injection = read_fault_injection(config, &fault_injection_errors);
  reader.add_errors(fault_injection_errors);
  std::vector<std::string> lora_errors;
  options.lora = read_lora_options(config, &lora_errors);
  reader.add_errors(lora_errors);
  std::vector<std::string> quantize_errors;
  read_quantize(config, &options, &quantize_errors);
  reader.add_errors(quantize_errors);
  errors->insert(errors->end(), reader.errors().begin(), reader.errors().end());
  return options;
}

}  // namespace flx::flux
