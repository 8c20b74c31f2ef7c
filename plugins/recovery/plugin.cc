// The flx_recovery plugin: binds LadderPolicy to the recovery ABI as type `ladder`.
#include <flx/plugin.hpp>
#include <map>
#include <optional>
#include <string>

#include "ladder_config.h"
#include "ladder_policy.h"

namespace flx::recovery {
namespace {

class LadderRecovery final : public flx::Recovery {
 public:
  explicit LadderRecovery(const flx::StageContext& context)
      : policy_(ReadLadderSettings(context.config)) {
    const LadderSettings& settings = policy_.settings();
    if (policy_.reachable_rungs() < settings.rungs.size()) {
      context.host.warn("rungs " + std::to_string(policy_.reachable_rungs() + 1) + " to " +
                        std::to_string(settings.rungs.size()) + " of the ladder are never used: " +
                        "max_attempts " + std::to_string(settings.max_attempts) + " allows " +
                        std::to_string(settings.max_attempts - 1) + " retries");
    }
  }

  void decide(const flx_request& request, const flx_error* failure, uint32_t attempt,
              flx_decision* decision) override {
    const TryFailure what{flx::error_code(failure), flx::error_message(failure)};
    std::map<std::string, std::string> in_force;
    if (FLX_HAS_FIELD(flx_request, &request, n_overrides)) in_force = flx::overrides(request);
    const std::optional<RetryPlan> plan = policy_.Decide(what, attempt, in_force);
    if (!plan) return;
    for (const auto& [key, value] : plan->overrides) flx::set_override(decision, key, value);
    flx::retry(decision, plan->reason_code, plan->message, plan->delay_ms);
  }

 private:
  const LadderPolicy policy_;
};

}  // namespace
}  // namespace flx::recovery

FLX_PLUGIN("flx_recovery", "1.0.0",
           flx::recovery_factory<flx::recovery::LadderRecovery>("ladder", "1.0.0",
                                                                FLX_FLAG_THREADSAFE))
