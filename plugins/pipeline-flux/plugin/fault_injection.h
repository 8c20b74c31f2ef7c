// fault_injection.h — out-of-memory failures on purpose, for tests and for operators
// rehearsing failure: the `fault_injection` map of a `flux` stage's config makes chosen tries
// fail exactly as a real allocation failure does (RESOURCE_EXHAUSTED with an "out of memory"
// message, device caches released, the recovery ladder consulted).
//
//   fault_injection:
//     oom_first_n: 1             # int >= 0: the stage's first N tries fail
//     oom_above_pixels: 262144   # int > 0: tries whose width x height is above this fail
//     oom_when_dtype: bfloat16   # float32 | bfloat16 | float16: tries in this dtype fail
//
// Keys combine: a try fails when any of them says so. Absent or an empty map means off (the
// default); with any key set the stage logs "FAULT INJECTION ENABLED: ..." as a warning when
// it is created and describe() shows the settings.
//
// A try is one generate() call whose request resolved and that was not cancelled before it
// started. Tries are counted over the stage's lifetime, not per request, because the ABI gives
// a pipeline no per-request try number; the warm-up is not a try. Width, height and dtype are
// the try's own, after recovery overrides.
#ifndef FLX_FLUX_PLUGIN_FAULT_INJECTION_H_
#define FLX_FLUX_PLUGIN_FAULT_INJECTION_H_

#include <cstdint>
#include <flx/plugin.hpp>
#include <optional>
#include <string>
#include <vector>

namespace flx::flux {

struct FaultInjection {
  std::optional<int64_t> oom_first_n;
  std::optional<int64_t> oom_above_pixels;
  std::optional<std::string> oom_when_dtype;

  // True when any key is set (oom_first_n: 0 included: the config asked for injection).
  bool enabled() const;
};

// The dtypes oom_when_dtype accepts: those a try can compute in.
const std::vector<std::string>& fault_injection_dtypes();

// Reads the `fault_injection` key of a stage's config. Appends one message per problem to
// `errors`, each located at file:line:col by the host: a value that is not a map, an unknown
// key, a value of the wrong type or out of range. Returns the valid settings.
FaultInjection read_fault_injection(const flx::Config& stage_config,
                                    std::vector<std::string>* errors);

// The set keys as "oom_first_n: 1, oom_when_dtype: bfloat16", for the start-up warning.
std::string fault_injection_summary(const FaultInjection& injection);

// What the injector knows of one try.
struct TryShape {
  int64_t number = 0;  // 1-based, counted over the stage's lifetime
  int64_t width = 0;
  int64_t height = 0;
  std::string dtype;
};

// Why `shape` must fail ("try 1 of the first 2 (oom_first_n)"), or nullopt when it runs.
// When several keys apply, the first of oom_first_n, oom_above_pixels, oom_when_dtype names it.
std::optional<std::string> injected_failure(const FaultInjection& injection,
                                            const TryShape& shape);

// The message an injected failure carries: "out of memory (injected: <reason>)".
std::string injected_out_of_memory_message(const std::string& reason);

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_FAULT_INJECTION_H_
