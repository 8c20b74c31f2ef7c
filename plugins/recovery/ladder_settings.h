// What a `ladder` recovery stage is configured to do: which failures it handles, how many
// tries a request gets, and the rungs, each a set of knobs for one more try.
#ifndef FLX_PLUGINS_RECOVERY_LADDER_SETTINGS_H_
#define FLX_PLUGINS_RECOVERY_LADDER_SETTINGS_H_

#include <flx/flx.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flx::recovery {

// One rung: the knobs of one retry. Values are canonical (as flx/vocabulary.h spells them); a
// knob left unset is not sent, so the value of an earlier rung stays in force. A rung
// without knobs retries with the overrides already in force.
struct Rung {
  bool empty_cache = false;
  std::optional<std::string> attention_slicing;  // "off", "auto", "max" or a positive integer
  std::optional<bool> vae_tiling;
  std::optional<bool> vae_slicing;
  std::optional<std::string> offload;  // "none", "model" or "sequential"
  std::optional<std::string> dtype;    // "float32", "float16" or "bfloat16"
  bool halve_steps = false;
  std::optional<uint32_t> min_steps;  // only with halve_steps
  bool halve_resolution = false;
  std::optional<uint32_t> min_side;  // only with halve_resolution
  std::optional<uint32_t> delay_ms;  // replaces LadderSettings::delay_ms for this rung
  std::string reason;                // the reason code; empty: derived from the knobs
};

struct LadderSettings {
  // Tries in total, the first included; a request is retried only while attempt < this.
  uint32_t max_attempts = 1;
  // The failure codes the stage acts on; others pass through untouched.
  std::vector<flx_code> codes = {FLX_RESOURCE_EXHAUSTED};
  // Pause before each retry, unless the rung sets its own.
  uint32_t delay_ms = 0;
  // rungs[i] is used for try i + 2 (after try i + 1 failed).
  std::vector<Rung> rungs;
};

// The ladder used when the config has none: empty the cache, maximal attention slicing, VAE
// tiling, model offload, half the steps, half the resolution; cheapest in quality first.
std::vector<Rung> DefaultLadder();

}  // namespace flx::recovery

#endif  // FLX_PLUGINS_RECOVERY_LADDER_SETTINGS_H_
