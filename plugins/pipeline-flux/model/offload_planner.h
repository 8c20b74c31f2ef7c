// offload_planner.h — which weights live on the accelerator when (the `offload` setting), as
// pure logic: given the mode and the components with their blocks, the moves to make at each
// point of a generation. OffloadExecutor (offload_executor.h) applies them.
//
//   none        every component on the accelerator from load on (no moves).
//   model       every component on the host; each moves to the accelerator when it starts
//               running (text encoders in encode_prompt, the transformer for the whole
//               denoising loop, the VAE for decoding) and back to the host when it is done,
//               so one component's weights occupy the accelerator at a time (diffusers'
//               enable_model_cpu_offload keeps the last one until the next one starts; ours
//               frees it at once).
//   sequential  like model, but a component with blocks only brings its weights outside the
//               blocks (embeddings, final norms) for its run and streams each block to the
//               accelerator right before the block runs and back right after it, so one block
//               occupies the accelerator at a time (diffusers' enable_sequential_cpu_offload
//               streams every leaf module; a block is our unit).
#ifndef FLX_FLUX_MODEL_OFFLOAD_PLANNER_H_
#define FLX_FLUX_MODEL_OFFLOAD_PLANNER_H_

#include <string>
#include <vector>

namespace flx::flux {

// kAuto is a setting, not a mode the planner runs: the stage resolves it before loading
// (quantize_choice.h: none when the weights fit the accelerator's budget, else model, with
// sequential last; none on the CPU).
enum class OffloadMode { kNone, kModel, kSequential, kAuto };

// Parses "none", "model", "sequential" or "auto" (any case). Throws std::invalid_argument
// naming offload and the value otherwise.
OffloadMode parse_offload_mode(const std::string& value);
const char* offload_mode_name(OffloadMode mode);

// The block holding the weight called `weight_name`, as the networks name their blocks for
// sequential offload ("transformer_blocks.3.", "single_transformer_blocks.0.",
// "encoder.block.11."), or "" for a weight outside every block.
std::string block_prefix_of(const std::string& weight_name);

// A network the planner moves: its name ("text_encoder", "text_encoder_2", "transformer",
// "vae") and the weight-name prefixes of its blocks in the order they run (empty when it
// moves as a whole even in sequential mode).
struct OffloadComponent {
  std::string name;
  std::vector<std::string> blocks;
};

// A set of one component's weights.
struct WeightGroup {
  enum class Scope {
    kWhole,          // every weight of the component
    kOutsideBlocks,  // the weights under none of its block prefixes
    kBlock,          // the weights under `block`
  };
  std::string component;
  Scope scope = Scope::kWhole;
  std::string block;  // kBlock only

  bool operator==(const WeightGroup& other) const {
    return component == other.component && scope == other.scope && block == other.block;
  }
};

// True when the weight called `name` (its full name) belongs to `group`; `component` is the
// group's component.
bool group_contains(const WeightGroup& group, const OffloadComponent& component,
                    const std::string& name);

struct OffloadMove {
  WeightGroup group;
  bool to_accelerator = false;  // false: back to the host

  bool operator==(const OffloadMove& other) const {
    return group == other.group && to_accelerator == other.to_accelerator;
  }
};

// A point of a generation at which weights may move.
struct OffloadEvent {
  enum class Kind {
    kLoad,            // once, right after the weights are loaded
    kComponentStart,  // `component` is about to run
    kComponentEnd,    // `component` is done for now (also after a failure)
    kBlockStart,      // `component` is about to run its block `block`
    kBlockEnd,        // ... and has run it
  };
  Kind kind = Kind::kLoad;
  std::string component;
  std::string block;
};

class OffloadPlanner {
 public:
  // Throws std::invalid_argument for kAuto, which must be resolved first.
  OffloadPlanner(OffloadMode mode, std::vector<OffloadComponent> components);

  // The moves to make at `event`, in order; empty where the mode does nothing. At kLoad every
  // component goes whole to the accelerator (none) or stays on the host (model, sequential:
  // moves to the host). kComponentEnd in sequential mode returns the whole component to the
  // host, which also recovers blocks left on the accelerator by a failure mid-block.
  std::vector<OffloadMove> moves(const OffloadEvent& event) const;

  // One line per component saying where its weights live when, for the startup log.
  std::string describe() const;

  OffloadMode mode() const { return mode_; }
  const std::vector<OffloadComponent>& components() const { return components_; }
  // The component called `name`, or nullptr.
  const OffloadComponent* find(const std::string& name) const;

 private:
  OffloadMode mode_;
  std::vector<OffloadComponent> components_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_OFFLOAD_PLANNER_H_
