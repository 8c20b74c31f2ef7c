// The `ladder` recovery policy: after a failed try whose code it handles, the next rung of
// its ladder becomes the overrides of the next try. Pure and stateless per request: every
// decision follows from the try number and the overrides already in force, so one policy
// serves any number of concurrent requests.
#ifndef FLX_PLUGINS_RECOVERY_LADDER_POLICY_H_
#define FLX_PLUGINS_RECOVERY_LADDER_POLICY_H_

#include <flx/flx.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ladder_settings.h"

namespace flx::recovery {

// A failed try, as the policy sees it.
struct TryFailure {
  flx_code code = FLX_UNKNOWN;
  std::string message;
};

// What to do before the next try.
struct RetryPlan {
  // Machine-readable: the rung's `reason`, else its knobs' codes joined by '+'
  // ("attention_slicing", "steps_halved", "vae_tiling+vae_slicing"), or "retry" for a rung
  // without knobs (a plain retry, e.g. after a delay).
  std::string reason_code;
  // For people: "out of memory (<failure>): retrying with attention slicing max (rung 2 of 6)".
  std::string message;
  uint32_t delay_ms = 0;
  // Knobs of flx/vocabulary.h with their values, in a fixed knob order.
  std::vector<std::pair<std::string, std::string>> overrides;
};

class LadderPolicy {
 public:
  explicit LadderPolicy(LadderSettings settings);

  const LadderSettings& settings() const { return settings_; }

  // How many rungs a request can reach: the ladder's length, cut short by max_attempts.
  size_t reachable_rungs() const;

  // The retry after try `attempt` (1-based) failed with `failure`, `in_force` being the
  // overrides that try ran with. Returns nullopt, so the failure passes through untouched,
  // when the code is not one the stage handles, when `attempt` >= max_attempts, or when no
  // rung is left (rung attempt - 1 is the one used). Halving rungs multiply the
  // steps_factor / resolution_factor in force; throws std::invalid_argument naming the key
  // when such a value is not a decimal in (0, 1].
  std::optional<RetryPlan> Decide(const TryFailure& failure, uint32_t attempt,
                                  const std::map<std::string, std::string>& in_force) const;

 private:
  bool Handles(flx_code code) const;

  LadderSettings settings_;
};

}  // namespace flx::recovery

#endif  // FLX_PLUGINS_RECOVERY_LADDER_POLICY_H_
