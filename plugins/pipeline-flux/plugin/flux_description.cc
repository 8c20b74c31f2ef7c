#include "flux_description.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <sstream>

namespace flx::flux {
namespace {

Poco::Dynamic::Var optional_number(const std::optional<double>& value) {
  return value ? Poco::Dynamic::Var(*value) : Poco::Dynamic::Var();
}

Poco::Dynamic::Var fault_injection_json(const FaultInjection& injection) {
  if (!injection.enabled()) return Poco::Dynamic::Var();
  Poco::JSON::Object::Ptr object = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  if (injection.oom_first_n) object->set("oom_first_n", *injection.oom_first_n);
  if (injection.oom_above_pixels) object->set("oom_above_pixels", *injection.oom_above_pixels);
  if (injection.oom_when_dtype) object->set("oom_when_dtype", *injection.oom_when_dtype);
  return object;
}

// config.quantization: per component {quantize, file, tensor_types, bytes}.
Poco::JSON::Object::Ptr quantization_json(
    const std::map<std::string, FluxDescription::Quantization>& quantization) {
  Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  for (const auto& [component, q] : quantization) {
    Poco::JSON::Object::Ptr entry = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    entry->set("quantize", q.quantize);
    entry->set("applied", q.applied ? Poco::Dynamic::Var(*q.applied) : Poco::Dynamic::Var());
    entry->set("file", q.file);
    Poco::JSON::Object::Ptr types = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& [type, count] : q.tensor_types) types->set(type, count);
    entry->set("tensor_types", types);
    entry->set("bytes", q.bytes ? Poco::Dynamic::Var(*q.bytes) : Poco::Dynamic::Var());
    out->set(component, entry);
  }
  return out;
}

}  // namespace

const char* warmup_state_name(WarmupState state) {
  switch (state) {
    case WarmupState::kDisabled:
      return "disabled";
    case WarmupState::kPending:
      return "pending";
    case WarmupState::kRunning:
      return "running";
    case WarmupState::kDone:
      return "done";
    case WarmupState::kFailed:
      return "failed";
    case WarmupState::kSkipped:
      return "skipped";
  }
  return "unknown";
}

namespace {

using ObjectPtr = Poco::JSON::Object::Ptr;

ObjectPtr new_object() { return new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER); }

template <typename T>
Poco::Dynamic::Var optional_value(const std::optional<T>& value) {
  return value ? Poco::Dynamic::Var(*value) : Poco::Dynamic::Var();
}

ObjectPtr warmup_json(const FluxDescription& d) {
  ObjectPtr warmup = new_object();
  warmup->set("enabled", d.options.warmup);
  warmup->set("state", std::string(warmup_state_name(d.warmup_state)));
  warmup->set("duration_ms", optional_number(d.warmup_ms));
  return warmup;
}

ObjectPtr text_cache_json(const FluxDescription& d) {
  ObjectPtr text_cache = new_object();
  text_cache->set("size", d.text_cache.size);
  text_cache->set("entries", d.text_cache.entries);
  text_cache->set("hits", d.text_cache.hits);
  text_cache->set("misses", d.text_cache.misses);
  return text_cache;
}

ObjectPtr buffer_pool_json(const FluxDescription& d) {
  ObjectPtr pool = new_object();
  pool->set("enabled", d.buffer_pool.enabled);
  pool->set("hits", d.buffer_pool.hits);
  pool->set("misses", d.buffer_pool.misses);
  pool->set("live_bytes", d.buffer_pool.live_bytes);
  pool->set("idle_bytes", d.buffer_pool.idle_bytes);
  pool->set("peak_live_bytes", d.buffer_pool.peak_live_bytes);
  pool->set("idle_cap_bytes", d.buffer_pool.idle_cap_bytes);
  return pool;
}

ObjectPtr memory_json(const FluxDescription& d) {
  ObjectPtr memory = new_object();
  memory->set("budget_bytes", d.memory.budget_bytes);
  memory->set("budget_reason", d.memory.budget_reason);
  memory->set("over_budget", std::string(d.options.over_budget_fit ? "fit" : "refuse"));
  memory->set("max_pixels", d.options.max_pixels);
  memory->set("buffer_pool_idle_max_bytes", d.memory.buffer_pool_idle_max_bytes);
  memory->set("buffer_pool_idle_reason", d.memory.buffer_pool_idle_reason);
  memory->set("release_unused_weights", optional_value(d.memory.release_unused_weights));
  memory->set("weights_peak_bytes", optional_value(d.memory.weights_peak_bytes));
  memory->set("planned_peak_bytes", optional_value(d.memory.planned_peak_bytes));
  return memory;
}

Poco::JSON::Array::Ptr loaded_variants_json(const FluxDescription& d) {
  Poco::JSON::Array::Ptr variants = new Poco::JSON::Array;
  for (const FluxDescription::Variant& variant : d.loaded_variants) {
    ObjectPtr item = new_object();
    item->set(FLX_KNOB_DTYPE, variant.dtype);
    item->set(FLX_KNOB_OFFLOAD, variant.offload);
    variants->add(item);
  }
  return variants;
}

// Where the weights come from and whether they are in memory.
void set_model_fields(const FluxDescription& d, Poco::JSON::Object& object) {
  object.set("type", std::string("flux"));
  object.set("model", d.options.model);
  object.set("model_root", d.model_root);
  object.set("transformer_file", d.transformer_file);
  object.set("vae_file", d.vae_file);
  object.set("text_encoder_2_file", d.text_encoder_2_file);
  object.set("load", std::string(load_mode_name(d.options.load)));
  object.set("loaded", d.loaded);
}

// The resolved execution settings, each with the reason it was chosen.
void set_execution_fields(const FluxDescription& d, Poco::JSON::Object& object) {
  object.set("device", d.settings.device);
  object.set("device_reason", d.settings.device_reason);
  object.set(FLX_KNOB_DTYPE, d.settings.dtype);
  object.set("dtype_reason", d.settings.dtype_reason);
  object.set("threads", d.settings.threads);
  object.set("threads_reason", d.settings.threads_reason);
  object.set("blas", d.settings.blas);
  object.set("matmul_gflops", optional_number(d.matmul_gflops));
  object.set(FLX_KNOB_ATTENTION_SLICING, d.settings.attention_slicing);
  object.set(FLX_KNOB_VAE_SLICING, d.settings.vae_slicing);
  object.set(FLX_KNOB_VAE_TILING, d.settings.vae_tiling);
  object.set("vae_tile_size", d.settings.vae_tile_size);
  object.set("vae_tile_overlap", d.settings.vae_tile_overlap);
  object.set(FLX_KNOB_OFFLOAD, d.settings.offload);
  object.set("offload_summary", d.offload_summary);
  object.set("dtype_override", d.dtype_override);
  object.set("override_variants", d.options.override_variants);
  object.set("loaded_variants", loaded_variants_json(d));
  object.set("progress", std::string(progress_mode_name(d.options.progress)));
}

// The request defaults (also under their older un-prefixed names) and the size rules.
void set_default_fields(const FluxDescription& d, Poco::JSON::Object& object) {
  object.set(FLX_KNOB_STEPS, d.defaults.steps);
  object.set("guidance", optional_number(d.defaults.guidance));
  object.set("max_sequence_length", d.defaults.max_sequence_length);
  object.set("default_steps", d.defaults.steps);
  object.set("default_guidance", optional_number(d.defaults.guidance));
  object.set("default_max_sequence_length", d.defaults.max_sequence_length);
  object.set("default_width", d.defaults.width);
  object.set("default_height", d.defaults.height);
}

ObjectPtr lora_json(const FluxDescription& d) {
  ObjectPtr lora = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  lora->set("dir", d.options.lora.dir);
  Poco::JSON::Array::Ptr available = new Poco::JSON::Array;
  for (const std::string& name : d.lora.available) available->add(name);
  lora->set("available", available);
  Poco::JSON::Array::Ptr defaults = new Poco::JSON::Array;
  for (const LoraSpec& spec : d.options.lora.defaults) {
    ObjectPtr entry = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    entry->set("name", spec.name);
    entry->set("scale", spec.scale);
    defaults->add(entry);
  }
  lora->set("default", defaults);
  lora->set("cache_size", d.options.lora.cache);
  lora->set("cached_sets", static_cast<uint64_t>(d.lora.cached_sets));
  lora->set("cached_bytes", d.lora.cached_bytes);
  lora->set("merges", d.lora.merges);
  lora->set("hits", d.lora.hits);
  if (!d.lora.error.empty()) lora->set("error", d.lora.error);
  return lora;
}

}  // namespace

std::string describe_json(const FluxDescription& d) {
  Poco::JSON::Object object(Poco::JSON_PRESERVE_KEY_ORDER);
  set_model_fields(d, object);
  set_execution_fields(d, object);
  object.set("buffer_pool", buffer_pool_json(d));
  object.set("memory", memory_json(d));
  object.set("quantization", quantization_json(d.quantization));
  object.set("text_cache", text_cache_json(d));
  set_default_fields(d, object);
  object.set("warmup", warmup_json(d));
  object.set(FLX_GAUGE_WEIGHTS_BYTES, optional_value(d.weights_bytes));
  object.set("vae_scale_factor", d.vae_scale_factor);
  object.set("size_multiple", 2 * d.vae_scale_factor);
  object.set("guidance_embeds", d.guidance_embeds);
  object.set("fault_injection", fault_injection_json(d.options.fault_injection));
  object.set("lora", lora_json(d));
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

}  // namespace flx::flux
