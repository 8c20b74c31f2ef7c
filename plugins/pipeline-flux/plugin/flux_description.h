// flux_description.h — the JSON a `flux` stage answers describe() with (shown by the host
// under the model's details): the active configuration after defaults and "auto" were
// resolved, where loading and warm-up stand, and the model facts that shape requests.
//
//   {"type": "flux", "model": <config value>, "model_root": <diffusers folder used>,
//    "transformer_file": <single file or "">, "vae_file": <single file or "">,
//    "load": "eager"|"lazy", "loaded": bool, "device": "cpu", "dtype": "float32"|"bfloat16",
//    "threads": int, "default_steps": int, "default_guidance": number|null (null: the model
//    ignores guidance), "default_max_sequence_length": int, "default_width": int,
//    "default_height": int,
//    "warmup": {"enabled": bool, "state": "disabled"|"pending"|"running"|"done"|"failed"|
//               "skipped", "duration_ms": number|null},
//    "vae_scale_factor": int, "size_multiple": int, "guidance_embeds": bool,
//    "fault_injection": null (off) or {"oom_first_n": int, "oom_above_pixels": int,
//                       "oom_when_dtype": string} with the keys that are set}
#ifndef FLX_FLUX_PLUGIN_FLUX_DESCRIPTION_H_
#define FLX_FLUX_PLUGIN_FLUX_DESCRIPTION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "flux_options.h"
#include "request_params.h"

namespace flx::flux {

// disabled: warmup: false; skipped: load: lazy; pending: not started yet.
enum class WarmupState { kDisabled, kPending, kRunning, kDone, kFailed, kSkipped };
const char* warmup_state_name(WarmupState state);

struct FluxDescription {
  FluxOptions options;
  std::string model_root;
  std::string transformer_file;
  std::string vae_file;
  bool loaded = false;
  ModelDefaults defaults;
  int64_t vae_scale_factor = 0;
  bool guidance_embeds = false;
  WarmupState warmup_state = WarmupState::kDisabled;
  std::optional<double> warmup_ms;
};

std::string describe_json(const FluxDescription& description);

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_FLUX_DESCRIPTION_H_
