// The flx_recovery plugin as the host runs it: loaded by a real stage graph from YAML, its
// decide() called through the ABI with the host's own decision object.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/graph_config.h"
#include "error.h"
#include "host_api.h"
#include "stage_graph.h"

namespace flx {
namespace {

// A graph of one recovery stage `oom` with `config` in front of a test pipeline. The stage
// line is line 4 of "test.yaml".
std::string Graph(const std::string& recovery_config) {
  const char* plugin_dir = std::getenv("FLX_PLUGIN_DIR");
  return std::string("version: 1\n") + "plugin_paths: [\"" + (plugin_dir ? plugin_dir : "") +
         "\"]\n" +
         "stages:\n"
         "  - {id: oom, kind: recovery, library: flx_recovery, type: ladder, config: " +
         recovery_config +
         "}\n"
         "  - {id: pipe, kind: pipeline, library: flx_test_pipeline, type: test}\n"
         "models:\n"
         "  m: [oom, pipe]\n";
}

class RecoveryPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(std::getenv("FLX_PLUGIN_DIR"), nullptr)
        << "FLX_PLUGIN_DIR is not set (CTest sets it)";
  }

  // Builds the graph; on failure returns nullptr with the diagnostics in *diagnostics.
  static std::unique_ptr<StageGraph> Build(const std::string& recovery_config, bool dry_run,
                                           std::string* diagnostics) {
    Diagnostics diags;
    auto config = ParseGraphConfig(Graph(recovery_config), "test.yaml", Environment(), &diags);
    if (!config.ok()) {
      *diagnostics = diags.ToString();
      return nullptr;
    }
    auto graph = StageGraph::Build(*config, dry_run, &diags);
    *diagnostics = diags.ToString();
    if (!graph.ok()) return nullptr;
    return std::move(*graph);
  }

  static const StageInstance* Recovery(const StageGraph& graph) {
    const ModelChain* chain = graph.FindModel("m");
    if (chain == nullptr || chain->recoveries.size() != 1) return nullptr;
    return chain->recoveries[0];
  }

  // Asks the stage about try `attempt` failing with `code`, `in_force` being its overrides.
  static flx_decision Decide(const StageInstance& stage, flx_code code, uint32_t attempt,
                             const std::vector<flx_kv>& in_force) {
    flx_call call;
    call.request_id = "req-1";
    call.model = "m";
    flx_request request{};
    request.struct_size = sizeof(request);
    request.id = "req-1";
    request.model = "m";
    request.prompt = "p";
    request.n = 1;
    request.overrides = in_force.empty() ? nullptr : in_force.data();
    request.n_overrides = in_force.size();
    request.call = &call;
    flx_error* failure = NewError(code, "CUDA out of memory");
    flx_decision decision;
    Status policy =
        ConsumeError(stage.recovery()->decide(stage.self, &request, failure, attempt, &decision));
    FreeError(failure);
    EXPECT_TRUE(policy.ok()) << policy.ToString();
    return decision;
  }
};

TEST_F(RecoveryPluginTest, LadderIsAThreadsafeRecoveryType) {
  std::string diagnostics;
  auto graph = Build("{}", /*dry_run=*/false, &diagnostics);
  ASSERT_TRUE(graph) << diagnostics;
  const StageInstance* stage = Recovery(*graph);
  ASSERT_NE(stage, nullptr);
  EXPECT_EQ(stage->factory->kind, FLX_KIND_RECOVERY);
  EXPECT_EQ(stage->factory->flags & FLX_FLAG_THREADSAFE, FLX_FLAG_THREADSAFE);
  EXPECT_STREQ(stage->library->info().name, "flx_recovery");
  EXPECT_EQ(diagnostics, "") << "every key read, nothing to warn about";
}

TEST_F(RecoveryPluginTest, DecideFillsTheHostsDecision) {
  std::string diagnostics;
  auto graph =
      Build("{delay_ms: 5, ladder: [{attention_slicing: max}, {steps: half, min_steps: 2}]}",
            /*dry_run=*/false, &diagnostics);
  ASSERT_TRUE(graph) << diagnostics;
  const StageInstance* stage = Recovery(*graph);
  ASSERT_NE(stage, nullptr);

  flx_decision first = Decide(*stage, FLX_RESOURCE_EXHAUSTED, 1, {});
  EXPECT_TRUE(first.retry);
  EXPECT_EQ(first.reason_code, "attention_slicing");
  EXPECT_EQ(
      first.message,
      "out of memory (CUDA out of memory): retrying with attention slicing max (rung 1 of 2)");
  EXPECT_EQ(first.delay_ms, 5u);
  EXPECT_EQ(first.overrides,
            (std::vector<std::pair<std::string, std::string>>{{"attention_slicing", "max"}}));

  flx_decision second = Decide(*stage, FLX_RESOURCE_EXHAUSTED, 2,
                               {{"attention_slicing", "max"}, {"steps_factor", "0.5"}});
  EXPECT_TRUE(second.retry);
  EXPECT_EQ(second.reason_code, "steps_halved");
  EXPECT_EQ(second.overrides, (std::vector<std::pair<std::string, std::string>>{
                                  {"steps_factor", "0.25"}, {"min_steps", "2"}}));

  EXPECT_FALSE(Decide(*stage, FLX_RESOURCE_EXHAUSTED, 3, {}).retry) << "the ladder is used up";
  EXPECT_FALSE(Decide(*stage, FLX_INTERNAL, 1, {}).retry) << "not a code it handles";
}

TEST_F(RecoveryPluginTest, AMalformedFactorInForceFailsThePolicyNotTheRequest) {
  std::string diagnostics;
  auto graph = Build("{ladder: [{steps: half}]}", /*dry_run=*/false, &diagnostics);
  ASSERT_TRUE(graph) << diagnostics;
  const StageInstance* stage = Recovery(*graph);
  ASSERT_NE(stage, nullptr);
  flx_call call;
  flx_request request{};
  request.struct_size = sizeof(request);
  request.id = "req-1";
  request.model = "m";
  request.prompt = "p";
  const flx_kv in_force[] = {{"steps_factor", "lots"}};
  request.overrides = in_force;
  request.n_overrides = 1;
  request.call = &call;
  flx_error* failure = NewError(FLX_RESOURCE_EXHAUSTED, "oom");
  flx_decision decision;
  Status policy =
      ConsumeError(stage->recovery()->decide(stage->self, &request, failure, 1, &decision));
  FreeError(failure);
  EXPECT_EQ(policy.code(), FLX_INTERNAL) << policy.ToString();
  EXPECT_NE(policy.message().find("steps_factor"), std::string::npos) << policy.ToString();
  EXPECT_FALSE(decision.retry);
}

TEST_F(RecoveryPluginTest, BadConfigFailsCreateWithLocations) {
  std::string diagnostics;
  auto graph = Build("{codes: [OOM], ladder: [{attention_slicing: max}, {bogus: 1}]}",
                     /*dry_run=*/true, &diagnostics);
  EXPECT_FALSE(graph);
  for (const char* part : {
           "test.yaml:4:5: error: stages[0]: stage 'oom' (flx_recovery, type ladder): create "
           "failed: "
           "INVALID_ARGUMENT: ",
           "test.yaml:4:85: stages[0].config.codes[0]: expected a code name (",
           "test.yaml:4:126: stages[0].config.ladder[1]: unknown knob 'bogus' (knobs: ",
       }) {
    EXPECT_NE(diagnostics.find(part), std::string::npos) << "missing \"" << part << "\" in:\n"
                                                         << diagnostics;
  }
}

}  // namespace
}  // namespace flx
