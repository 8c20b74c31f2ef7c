// Reads the `config:` map of a `ladder` recovery stage. Every key is optional:
//
//   key           type                 default                    meaning
//   max_attempts  int [1, 100]         1 + number of rungs        tries in total, first included
//   codes         list of code names   [RESOURCE_EXHAUSTED]       failures the stage acts on
//   delay_ms      int [0, 600000]      0                          pause before each retry
//   ladder        list of rungs        the default ladder (see    rung i is used for try i + 2
//                                      ladder_settings.h)
//
// A rung is a map of knobs, several allowed in one rung:
//
//   empty_cache        true
//   attention_slicing  off | auto | max | N (a positive integer)
//   vae_tiling         bool
//   vae_slicing        bool
//   offload            none | model | sequential
//   dtype              float32 | float16 | bfloat16 (fp32, fp16, bf16 are read as these)
//   steps              half          with optional min_steps: int [1, 1000]
//   resolution         half          with optional min_side: int [1, 16384]
//
// plus optional `delay_ms` (int [0, 600000], replaces the stage's for this rung) and
// `reason` (the reason code reported for the rung, 1 to 64 characters of [A-Za-z0-9_.:-]).
// A rung without knobs is a plain retry. Unknown keys are errors.
#ifndef FLX_PLUGINS_RECOVERY_LADDER_CONFIG_H_
#define FLX_PLUGINS_RECOVERY_LADDER_CONFIG_H_

#include <flx/plugin.hpp>

#include "ladder_settings.h"

namespace flx::recovery {

// Returns the settings `config` asks for, defaults filling the keys it leaves out (an empty
// Config gives the defaults). Throws one flx::Error (INVALID_ARGUMENT) listing every problem,
// one per line, each located at file:line:col by the host.
LadderSettings ReadLadderSettings(const flx::Config& config);

}  // namespace flx::recovery

#endif  // FLX_PLUGINS_RECOVERY_LADDER_CONFIG_H_
