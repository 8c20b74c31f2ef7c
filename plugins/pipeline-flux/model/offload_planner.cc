#include "model/offload_planner.h"

#include <cctype>
#include <stdexcept>
#include <utility>

namespace flx::flux {

OffloadMode parse_offload_mode(const std::string& value) {
  std::string lower;
  for (char c : value) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "none") return OffloadMode::kNone;
  if (lower == "model") return OffloadMode::kModel;
  if (lower == "sequential") return OffloadMode::kSequential;
  if (lower == "auto") return OffloadMode::kAuto;
  throw std::invalid_argument("offload \"" + value +
                              "\" must be none, model, sequential or auto");
}

const char* offload_mode_name(OffloadMode mode) {
  switch (mode) {
    case OffloadMode::kNone:
      return "none";
    case OffloadMode::kModel:
      return "model";
    case OffloadMode::kSequential:
      return "sequential";
    case OffloadMode::kAuto:
      return "auto";
  }
  return "none";
}

std::string block_prefix_of(const std::string& weight_name) {
  for (const std::string container :
       {"transformer_blocks.", "single_transformer_blocks.", "encoder.block."}) {
    if (weight_name.compare(0, container.size(), container) != 0) continue;
    size_t end = container.size();
    while (end < weight_name.size() && std::isdigit(static_cast<unsigned char>(weight_name[end]))) {
      ++end;
    }
    if (end > container.size() && end < weight_name.size() && weight_name[end] == '.') {
      return weight_name.substr(0, end + 1);
    }
  }
  return "";
}

bool group_contains(const WeightGroup& group, const OffloadComponent& component,
                    const std::string& name) {
  auto under = [&](const std::string& prefix) {
    return name.compare(0, prefix.size(), prefix) == 0;
  };
  switch (group.scope) {
    case WeightGroup::Scope::kWhole:
      return true;
    case WeightGroup::Scope::kBlock:
      return under(group.block);
    case WeightGroup::Scope::kOutsideBlocks:
      for (const std::string& block : component.blocks) {
        if (under(block)) return false;
      }
      return true;
  }
  return false;
}

OffloadPlanner::OffloadPlanner(OffloadMode mode, std::vector<OffloadComponent> components)
    : mode_(mode), components_(std::move(components)) {
  if (mode_ == OffloadMode::kAuto) {
    throw std::invalid_argument("offload auto must be resolved to a mode before loading");
  }
}

const OffloadComponent* OffloadPlanner::find(const std::string& name) const {
  for (const OffloadComponent& candidate : components_) {
    if (candidate.name == name) return &candidate;
  }
  return nullptr;
}

std::vector<OffloadMove> OffloadPlanner::moves(const OffloadEvent& event) const {
  using Kind = OffloadEvent::Kind;
  using Scope = WeightGroup::Scope;
  std::vector<OffloadMove> moves;
  if (event.kind == Kind::kLoad) {
    for (const OffloadComponent& component : components_) {
      moves.push_back({{component.name, Scope::kWhole, ""}, mode_ == OffloadMode::kNone});
    }
    return moves;
  }
  const OffloadComponent* component = find(event.component);
  if (mode_ == OffloadMode::kNone || component == nullptr) return moves;
  const bool streams = mode_ == OffloadMode::kSequential && !component->blocks.empty();
  switch (event.kind) {
    case Kind::kLoad:
      break;
    case Kind::kComponentStart:
      moves.push_back(
          {{component->name, streams ? Scope::kOutsideBlocks : Scope::kWhole, ""}, true});
      break;
    case Kind::kComponentEnd:
      moves.push_back({{component->name, Scope::kWhole, ""}, false});
      break;
    case Kind::kBlockStart:
    case Kind::kBlockEnd:
      if (streams) {
        moves.push_back(
            {{component->name, Scope::kBlock, event.block}, event.kind == Kind::kBlockStart});
      }
      break;
  }
  return moves;
}

std::string OffloadPlanner::describe() const {
  std::string text = std::string("offload ") + offload_mode_name(mode_) + ":";
  for (const OffloadComponent& component : components_) {
    text += "\n  " + component.name + ": ";
    if (mode_ == OffloadMode::kNone) {
      text += "on the accelerator from load on";
    } else if (mode_ == OffloadMode::kSequential && !component.blocks.empty()) {
      text += "on the host; weights outside its " + std::to_string(component.blocks.size()) +
              " blocks on the accelerator while it runs, each block only while it runs";
    } else {
      text += "on the host; on the accelerator while it runs";
    }
  }
  return text;
}

}  // namespace flx::flux
