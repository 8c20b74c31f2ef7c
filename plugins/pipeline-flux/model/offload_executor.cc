#include "model/offload_executor.h"

#include <stdexcept>
#include <utility>

namespace flx::flux {

OffloadExecutor::OffloadExecutor(OffloadPlanner planner, c10::Device accelerator,
                                 std::map<std::string, std::shared_ptr<WeightRegistry>> registries)
    : planner_(std::move(planner)),
      accelerator_(accelerator),
      active_(planner_.mode() != OffloadMode::kNone && !registries.empty()),
      registries_(std::move(registries)) {
  if (!active_) return;
  for (const OffloadComponent& component : planner_.components()) {
    const auto found = registries_.find(component.name);
    if (found == registries_.end() || found->second == nullptr) {
      throw std::invalid_argument("offload: component " + component.name +
                                  " has no weight registry");
    }
  }
}

std::string OffloadExecutor::summary() const {
  if (planner_.mode() == OffloadMode::kNone && accelerator_.is_cpu()) {
    return "offload none: every component on cpu";
  }
  if (planner_.mode() != OffloadMode::kNone && !active_) {
    return std::string("offload ") + offload_mode_name(planner_.mode()) + " has no effect on " +
           accelerator_.str();
  }
  return planner_.describe();
}

void OffloadExecutor::on(const OffloadEvent& event) {
  if (!active_) return;
  for (const OffloadMove& move : planner_.moves(event)) apply(move);
}

BlockHook OffloadExecutor::block_hook(const std::string& component) {
  if (!active_ || planner_.mode() != OffloadMode::kSequential) return {};
  return [this, component](const std::string& block, bool starting) {
    OffloadEvent event;
    event.kind = starting ? OffloadEvent::Kind::kBlockStart : OffloadEvent::Kind::kBlockEnd;
    event.component = component;
    event.block = block;
    on(event);
  };
}

void OffloadExecutor::apply(const OffloadMove& move) {
  const OffloadComponent& component = *planner_.find(move.group.component);
  const int64_t bytes =
      registries_.at(component.name)
          ->move(
              [&](const std::string& name) { return group_contains(move.group, component, name); },
              move.to_accelerator);
  if (move.to_accelerator) uploaded_bytes_ += bytes;
}

OffloadExecutor::ComponentRun::ComponentRun(OffloadExecutor& executor, std::string component)
    : executor_(executor), component_(std::move(component)) {
  executor_.on({OffloadEvent::Kind::kComponentStart, component_, ""});
}

OffloadExecutor::ComponentRun::~ComponentRun() {
  executor_.on({OffloadEvent::Kind::kComponentEnd, component_, ""});
}

}  // namespace flx::flux
