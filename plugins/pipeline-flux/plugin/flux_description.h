// flux_description.h — the JSON a `flux` stage answers describe() with (shown by the host
// under the model's details): the active configuration after defaults and "auto" were
// resolved, where loading and warm-up stand, and the model facts that shape requests.
//
//   {"type": "flux", "model": <config value>, "model_root": <diffusers folder used>,
//    "transformer_file": <single file or "">, "vae_file": <single file or "">,
//    "text_encoder_2_file": <single file or "">,
//    "load": "eager"|"lazy", "loaded": bool,
//    "device": "cpu"|"cuda:<N>"|"mps", "device_reason": string,
//    "dtype": "float32"|"float16"|"bfloat16", "dtype_reason": string,
//    "threads": int, "threads_reason": string, "blas": string,
//    "matmul_gflops": number|null (the start-up 512^3 matmul check; null in a dry run),
//    "attention_slicing": "off"|"auto"|"max"|"<N>", "vae_slicing": bool, "vae_tiling": bool,
//    "vae_tile_size": int, "vae_tile_overlap": int,
//    "offload": "none"|"model"|"sequential", "offload_summary": string ("" until loaded),
//    "dtype_override": how a recovery override of dtype (or offload) is treated,
//    "override_variants": int (copies kept for such overrides besides the configured one),
//    "loaded_variants": [{"dtype": string, "offload": string}, ...] (the copies loaded now,
//                       least recently used first; [] until loaded),
//    "progress": "off"|"log"|"bar",
//    "buffer_pool": {"enabled": bool, "hits": int, "misses": int, "live_bytes": int,
//                    "idle_bytes": int, "peak_live_bytes": int} (process-wide figures),
//    "text_cache": {"size": int (capacity, 0: off), "entries": int, "hits": int, "misses": int},
//    "steps": int, "guidance": number|null (null: the model ignores guidance),
//    "max_sequence_length": int (the defaults a request gets),
//    "default_steps", "default_guidance", "default_max_sequence_length" (the same values, older
//    names), "default_width": int, "default_height": int,
//    "warmup": {"enabled": bool, "state": "disabled"|"pending"|"running"|"done"|"failed"|
//               "skipped", "duration_ms": number|null},
//    "memory": {"budget_bytes": int, "budget_reason": string, "over_budget": "refuse"|"fit",
//               "max_pixels": int, "buffer_pool_idle_max_bytes": int,
//               "buffer_pool_idle_reason": string, "release_unused_weights": bool|null,
//               "weights_peak_bytes": int|null, "planned_peak_bytes": int|null (null until
//               loaded; planned: peak weights + a default-size request's activations)},
//    "weights_bytes": int|null (null until loaded),
//    "vae_scale_factor": int, "size_multiple": int, "guidance_embeds": bool,
//    "fault_injection": null (off) or {"oom_first_n": int, "oom_above_pixels": int,
//                       "oom_when_dtype": string} with the keys that are set,
//    "lora": {"dir": string ("" = none), "available": [names], "default": [{"name",
//             "scale"}], "cache_size": int, "cached_sets": int, "cached_bytes": int,
//             "merges": int, "hits": int, "error": string (only when lora_dir is unreadable)}}
#ifndef FLX_FLUX_PLUGIN_FLUX_DESCRIPTION_H_
#define FLX_FLUX_PLUGIN_FLUX_DESCRIPTION_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "flux_options.h"
#include "request_params.h"

namespace flx::flux {

// disabled: warmup: false; skipped: load: lazy; pending: not started yet.
enum class WarmupState { kDisabled, kPending, kRunning, kDone, kFailed, kSkipped };
const char* warmup_state_name(WarmupState state);

// The prompt cache's counters (prompt_cache.h).
struct TextCacheStats {
  int64_t size = 0;  // capacity; 0 when the cache is off
  int64_t entries = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
};

// The settings after resolution against the machine (stage_settings.h), as names.
struct ResolvedSettings {
  std::string device = "cpu";
  std::string device_reason;
  std::string dtype = "float32";
  std::string dtype_reason;
  int threads = 1;
  std::string threads_reason;
  std::string blas;
  std::string attention_slicing = "off";
  bool vae_slicing = false;
  bool vae_tiling = false;
  int64_t vae_tile_size = 0;
  int64_t vae_tile_overlap = 0;
  std::string offload = "none";
};

struct FluxDescription {
  FluxOptions options;
  ResolvedSettings settings;
  std::string offload_summary;
  std::string dtype_override;
  struct Variant {
    std::string dtype;
    std::string offload;
  };
  std::vector<Variant> loaded_variants;
  TextCacheStats text_cache;
  struct BufferPool {
    bool enabled = false;
    uint64_t hits = 0;
    uint64_t misses = 0;
    int64_t live_bytes = 0;
    int64_t idle_bytes = 0;
    int64_t peak_live_bytes = 0;
    int64_t idle_cap_bytes = 0;
  } buffer_pool;
  // The resolved memory settings (memory_plan.h).
  struct Memory {
    int64_t budget_bytes = 0;
    std::string budget_reason;
    int64_t buffer_pool_idle_max_bytes = 0;
    std::string buffer_pool_idle_reason;
    // Once loaded (the configured copy): whether unused components are released, the weights
    // held at once at the widest point, and that plus a default-size request's activations.
    std::optional<bool> release_unused_weights;
    std::optional<int64_t> weights_peak_bytes;
    std::optional<int64_t> planned_peak_bytes;
  } memory;
  std::optional<int64_t> weights_bytes;
  // Per component with quantization settings (transformer, text_encoder_2): the `quantize:`
  // value and, once loaded, the tensors per held type and their bytes.
  struct Quantization {
    std::string quantize = "none";
    std::optional<std::string> applied;  // what the loaded copy quantized to (auto resolved)
    std::string file;  // the single file it loads from, or ""
    std::map<std::string, int64_t> tensor_types;
    std::optional<int64_t> bytes;
  };
  std::map<std::string, Quantization> quantization;
  std::optional<double> matmul_gflops;
  std::string model_root;
  std::string transformer_file;
  std::string vae_file;
  std::string text_encoder_2_file;
  bool loaded = false;
  ModelDefaults defaults;
  int64_t vae_scale_factor = 0;
  bool guidance_embeds = false;
  WarmupState warmup_state = WarmupState::kDisabled;
  std::optional<double> warmup_ms;
  // The LoRA adapters in lora_dir now and the merged sets kept (lora_library.h).
  struct Lora {
    std::vector<std::string> available;
    std::string error;  // why lora_dir could not be listed, or ""
    uint64_t merges = 0;
    uint64_t hits = 0;
    size_t cached_sets = 0;
    int64_t cached_bytes = 0;
  } lora;
};

std::string describe_json(const FluxDescription& description);

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_FLUX_DESCRIPTION_H_
