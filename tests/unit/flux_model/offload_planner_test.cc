#include "model/offload_planner.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace flx::flux {
namespace {

using Kind = OffloadEvent::Kind;
using Scope = WeightGroup::Scope;

std::vector<OffloadComponent> flux_components() {
  return {{"text_encoder", {}},
          {"text_encoder_2", {"encoder.block.0.", "encoder.block.1."}},
          {"transformer", {"transformer_blocks.0.", "single_transformer_blocks.0."}},
          {"vae", {}}};
}

OffloadMove whole(const std::string& component, bool to_accelerator) {
  return {{component, Scope::kWhole, ""}, to_accelerator};
}

TEST(ParseOffloadMode, AcceptsTheThreeModesAndAuto) {
  EXPECT_EQ(parse_offload_mode("none"), OffloadMode::kNone);
  EXPECT_EQ(parse_offload_mode("Model"), OffloadMode::kModel);
  EXPECT_EQ(parse_offload_mode("SEQUENTIAL"), OffloadMode::kSequential);
  EXPECT_EQ(parse_offload_mode("Auto"), OffloadMode::kAuto);
  for (const OffloadMode mode : {OffloadMode::kNone, OffloadMode::kModel,
                                 OffloadMode::kSequential, OffloadMode::kAuto}) {
    EXPECT_EQ(parse_offload_mode(offload_mode_name(mode)), mode);
  }
  for (const std::string& bad : std::vector<std::string>{"", "cpu", "full", "models"}) {
    try {
      parse_offload_mode(bad);
      ADD_FAILURE() << "expected std::invalid_argument for \"" << bad << "\"";
    } catch (const std::invalid_argument& error) {
      EXPECT_EQ(std::string(error.what()),
                "offload \"" + bad + "\" must be none, model, sequential or auto");
    }
  }
}

TEST(OffloadPlanner, AutoMustBeResolvedBeforeAPlannerRuns) {
  EXPECT_THROW(OffloadPlanner(OffloadMode::kAuto, flux_components()), std::invalid_argument);
}

TEST(BlockPrefixOf, NamesTheBlockAsTheNetworksDo) {
  EXPECT_EQ(block_prefix_of("transformer_blocks.12.attn.to_q.weight"), "transformer_blocks.12.");
  EXPECT_EQ(block_prefix_of("single_transformer_blocks.0.proj_out.weight"),
            "single_transformer_blocks.0.");
  EXPECT_EQ(block_prefix_of("encoder.block.23.layer.1.DenseReluDense.wo.weight"),
            "encoder.block.23.");
  for (const std::string outside :
       {"x_embedder.weight", "encoder.final_layer_norm.weight", "shared.weight",
        "transformer_blocks.weight", "transformer_blocks.x.y", "encoder.block.7", "",
        "norm_out.transformer_blocks.1.weight"}) {
    EXPECT_EQ(block_prefix_of(outside), "") << outside;
  }
}

TEST(OffloadPlanner, MovesPerModeAndEvent) {
  const struct {
    OffloadMode mode;
    OffloadEvent event;
    std::vector<OffloadMove> moves;
  } cases[] = {
      {OffloadMode::kNone,
       {Kind::kLoad, "", ""},
       {whole("text_encoder", true), whole("text_encoder_2", true), whole("transformer", true),
        whole("vae", true)}},
      {OffloadMode::kNone, {Kind::kComponentStart, "transformer", ""}, {}},
      {OffloadMode::kNone, {Kind::kBlockStart, "transformer", "transformer_blocks.0."}, {}},
      {OffloadMode::kModel,
       {Kind::kLoad, "", ""},
       {whole("text_encoder", false), whole("text_encoder_2", false), whole("transformer", false),
        whole("vae", false)}},
      {OffloadMode::kModel,
       {Kind::kComponentStart, "transformer", ""},
       {whole("transformer", true)}},
      {OffloadMode::kModel,
       {Kind::kComponentEnd, "transformer", ""},
       {whole("transformer", false)}},
      {OffloadMode::kModel, {Kind::kBlockStart, "transformer", "transformer_blocks.0."}, {}},
      {OffloadMode::kModel, {Kind::kComponentStart, "unknown", ""}, {}},
      {OffloadMode::kSequential,
       {Kind::kLoad, "", ""},
       {whole("text_encoder", false), whole("text_encoder_2", false), whole("transformer", false),
        whole("vae", false)}},
      {OffloadMode::kSequential,
       {Kind::kComponentStart, "transformer", ""},
       {{{"transformer", Scope::kOutsideBlocks, ""}, true}}},
      {OffloadMode::kSequential,
       {Kind::kBlockStart, "transformer", "single_transformer_blocks.0."},
       {{{"transformer", Scope::kBlock, "single_transformer_blocks.0."}, true}}},
      {OffloadMode::kSequential,
       {Kind::kBlockEnd, "transformer", "single_transformer_blocks.0."},
       {{{"transformer", Scope::kBlock, "single_transformer_blocks.0."}, false}}},
      {OffloadMode::kSequential,
       {Kind::kComponentEnd, "transformer", ""},
       {whole("transformer", false)}},
      {OffloadMode::kSequential, {Kind::kComponentStart, "vae", ""}, {whole("vae", true)}},
      {OffloadMode::kSequential, {Kind::kBlockStart, "vae", "anything."}, {}},
  };
  for (const auto& c : cases) {
    const OffloadPlanner planner(c.mode, flux_components());
    EXPECT_EQ(planner.moves(c.event), c.moves)
        << offload_mode_name(c.mode) << ", event " << static_cast<int>(c.event.kind) << " "
        << c.event.component << " " << c.event.block;
  }
}

TEST(GroupContains, SelectsByBlockPrefix) {
  const OffloadComponent transformer{"transformer", {"transformer_blocks.1.", "norm_out."}};
  const struct {
    WeightGroup group;
    std::string name;
    bool contained;
  } cases[] = {
      {{"transformer", Scope::kWhole, ""}, "transformer_blocks.1.attn.to_q.weight", true},
      {{"transformer", Scope::kBlock, "transformer_blocks.1."}, "transformer_blocks.1.ff.w", true},
      {{"transformer", Scope::kBlock, "transformer_blocks.1."},
       "transformer_blocks.10.ff.w",
       false},
      {{"transformer", Scope::kBlock, "transformer_blocks.1."}, "x_embedder.weight", false},
      {{"transformer", Scope::kOutsideBlocks, ""}, "x_embedder.weight", true},
      {{"transformer", Scope::kOutsideBlocks, ""}, "transformer_blocks.10.ff.w", true},
      {{"transformer", Scope::kOutsideBlocks, ""}, "transformer_blocks.1.ff.w", false},
      {{"transformer", Scope::kOutsideBlocks, ""}, "norm_out.linear.weight", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(group_contains(c.group, transformer, c.name), c.contained)
        << static_cast<int>(c.group.scope) << " " << c.group.block << " / " << c.name;
  }
}

// Replays one generation (encode the prompt, two denoising steps, decode) through a planner
// and checks, at every point, which weights sit on the accelerator.
class PlanReplay {
 public:
  explicit PlanReplay(OffloadMode mode) : planner_(mode, flux_components()) {
    for (const OffloadComponent& component : planner_.components()) {
      for (const std::string& block : component.blocks) {
        weights_.push_back({component.name, block + "weight"});
      }
      weights_.push_back({component.name, "embed.weight"});
    }
    apply({Kind::kLoad, "", ""});
  }

  // Runs `component` (its blocks in order) and returns the largest number of weights it had
  // on the accelerator at once; fails the test when a running block's weights are not there.
  size_t run(const std::string& component) {
    apply({Kind::kComponentStart, component, ""});
    size_t most = resident_.size();
    for (const std::string& block : planner_.find(component)->blocks) {
      apply({Kind::kBlockStart, component, block});
      EXPECT_TRUE(resident_.count({component, block + "weight"}))
          << offload_mode_name(planner_.mode()) << ": " << block << " runs off the accelerator";
      EXPECT_TRUE(resident_.count({component, "embed.weight"}))
          << offload_mode_name(planner_.mode()) << ": " << component << " runs without its embed";
      most = std::max(most, resident_.size());
      apply({Kind::kBlockEnd, component, block});
    }
    apply({Kind::kComponentEnd, component, ""});
    return most;
  }

  size_t resident() const { return resident_.size(); }

 private:
  void apply(const OffloadEvent& event) {
    for (const OffloadMove& move : planner_.moves(event)) {
      for (const auto& weight : weights_) {
        if (weight.first != move.group.component) continue;
        if (!group_contains(move.group, *planner_.find(weight.first), weight.second)) continue;
        if (move.to_accelerator) {
          resident_.insert(weight);
        } else {
          resident_.erase(weight);
        }
      }
    }
  }

  OffloadPlanner planner_;
  std::vector<std::pair<std::string, std::string>> weights_;
  std::set<std::pair<std::string, std::string>> resident_;
};

TEST(OffloadPlanner, ReplayedGenerationKeepsWhatRunsOnTheAccelerator) {
  const struct {
    OffloadMode mode;
    size_t most_resident_transformer;  // of the 3 transformer and 8 total weights
    size_t resident_between_runs;
  } cases[] = {
      {OffloadMode::kNone, 8, 8},
      {OffloadMode::kModel, 3, 0},       // the whole transformer, nothing else
      {OffloadMode::kSequential, 2, 0},  // its embed and one block
  };
  for (const auto& c : cases) {
    PlanReplay replay(c.mode);
    EXPECT_EQ(replay.resident(), c.resident_between_runs) << offload_mode_name(c.mode);
    replay.run("text_encoder");
    replay.run("text_encoder_2");
    for (int step = 0; step < 2; ++step) {
      EXPECT_EQ(replay.run("transformer"), c.most_resident_transformer)
          << offload_mode_name(c.mode);
    }
    replay.run("vae");
    EXPECT_EQ(replay.resident(), c.resident_between_runs) << offload_mode_name(c.mode);
  }
}

TEST(OffloadPlanner, DescribesEachComponent) {
  EXPECT_EQ(OffloadPlanner(OffloadMode::kSequential, flux_components()).describe(),
            "offload sequential:\n"
            "  text_encoder: on the host; on the accelerator while it runs\n"
            "  text_encoder_2: on the host; weights outside its 2 blocks on the accelerator while "
            "it runs, each block only while it runs\n"
            "  transformer: on the host; weights outside its 2 blocks on the accelerator while it "
            "runs, each block only while it runs\n"
            "  vae: on the host; on the accelerator while it runs");
  EXPECT_EQ(OffloadPlanner(OffloadMode::kNone, {{"vae", {}}}).describe(),
            "offload none:\n  vae: on the accelerator from load on");
  EXPECT_EQ(OffloadPlanner(OffloadMode::kModel, {{"vae", {"x."}}}).describe(),
            "offload model:\n  vae: on the host; on the accelerator while it runs");
}

}  // namespace
}  // namespace flx::flux
