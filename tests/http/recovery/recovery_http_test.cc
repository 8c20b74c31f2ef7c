// Recovery ladders through HTTP: the test pipeline injects failures, a `ladder` stage retries
// with overrides, and the response tells the client what it got (fallback_reason and the
// effective parameters).
#include <Poco/JSON/Array.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "test_server.h"

namespace flx::test {
namespace {

constexpr const char* kGenerations = "/v1/images/generations";

// Stages and models for one model `test-model`: [oom, pipe].
std::string RecoveryChain(const std::string& recovery_config, const std::string& pipeline_config) {
  return "stages:\n"
         "  - {id: oom, kind: recovery, library: flx_recovery, type: ladder, config: " +
         recovery_config +
         "}\n"
         "  - {id: pipe, kind: pipeline, library: flx_test_pipeline, type: test, config: " +
         pipeline_config +
         "}\n"
         "models:\n"
         "  test-model: [oom, pipe]\n";
}

std::unique_ptr<TestServer> StartReady(const std::string& stages_and_models) {
  auto server = TestServer::Start(stages_and_models);
  if (server) {
    EXPECT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }));
  }
  return server;
}

// How many times the model's pipeline was entered, from /v1/models/{id}.
int PipelineCalls(const TestServer& server, const std::string& model = "test-model") {
  auto r = server.Get("/v1/models/" + model);
  if (r.status != 200) return -1;
  return r.Json()->getObject("config")->getValue<int>("calls");
}


// The code of every rung the response says was taken, in order.
std::vector<std::string> FallbackCodes(const Poco::JSON::Object::Ptr& json) {
  return FallbackSteps(json, "code");
}

TEST(RecoveryHttpTest, FailedTriesClimbTheLadderAndTheResponseSaysHow) {
  struct Case {
    std::string name;
    std::string recovery;
    std::string pipeline;
    std::string message_start;
  };
  const std::string ladder =
      "ladder: [{empty_cache: true}, {attention_slicing: max}, {vae_tiling: true}]";
  const std::vector<Case> cases = {
      {"out of memory", "{" + ladder + "}", "{fail_first_n: 2}",
       "out of memory (injected): retrying with the device cache emptied (rung 1 of 3)"},
      {"a configured code", "{codes: [UNAVAILABLE], " + ladder + "}",
       "{fail_first_n: 2, fail_code: UNAVAILABLE}",
       "UNAVAILABLE (injected failure on try 1): retrying with the device cache emptied (rung 1 "
       "of 3)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto server = StartReady(RecoveryChain(c.recovery, c.pipeline));
    ASSERT_NE(server, nullptr);
    auto r = server->Post(kGenerations, R"({"prompt":"x","size":"32x32"})");
    ASSERT_EQ(r.status, 200) << r.body;
    auto json = r.Json();
    ASSERT_TRUE(json->has("fallback_reason")) << r.body;
    auto fallback = json->getObject("fallback_reason");
    EXPECT_EQ(fallback->getValue<std::string>("code"), "attention_slicing") << "the last rung";
    EXPECT_EQ(fallback->getValue<int>("attempts"), 3);
    EXPECT_EQ(FallbackCodes(json), (std::vector<std::string>{"empty_cache", "attention_slicing"}));

    auto steps = fallback->getArray("steps");
    ASSERT_EQ(steps->size(), 2u);
    auto first = steps->getObject(0);
    EXPECT_EQ(first->getValue<int>("attempt"), 1);
    EXPECT_EQ(first->getValue<std::string>("stage"), "oom");
    EXPECT_EQ(first->getValue<std::string>("message"), c.message_start);
    EXPECT_EQ(first->getObject("overrides")->getValue<std::string>("empty_cache"), "true");
    auto second = steps->getObject(1);
    EXPECT_EQ(second->getValue<int>("attempt"), 2);
    EXPECT_NE(second->getValue<std::string>("message").find("attention slicing max (rung 2 of 3)"),
              std::string::npos)
        << second->getValue<std::string>("message");

    EXPECT_EQ(Param(json, "empty_cache"), "true") << r.body;
    EXPECT_EQ(Param(json, "attention_slicing"), "max") << r.body;
    EXPECT_EQ(Param(json, "vae_tiling"), "") << "rung 3 was never needed";
    EXPECT_EQ(Param(json, "width"), "32");
    EXPECT_EQ(PipelineCalls(*server), 3);
  }
}

TEST(RecoveryHttpTest, ResolutionHalvingFindsASizeThatFits) {
  auto server = StartReady(
      RecoveryChain("{ladder: [{resolution: half, min_side: 16}]}", "{fail_above_pixels: 4096}"));
  ASSERT_NE(server, nullptr);
  auto r = server->Post(kGenerations, R"({"prompt":"x","size":"128x128"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto json = r.Json();
  EXPECT_EQ(json->getValue<std::string>("size"), "64x64");
  EXPECT_EQ(FallbackCodes(json), std::vector<std::string>{"resolution_halved"});
  EXPECT_EQ(Param(json, "width"), "64");
  EXPECT_EQ(Param(json, "height"), "64");
  EXPECT_EQ(Param(json, "resolution_factor"), "0.5");
  EXPECT_EQ(Param(json, "min_side"), "16");
  EXPECT_EQ(PipelineCalls(*server), 2);
}

TEST(RecoveryHttpTest, StepsHalvingShowsTheEffectiveSteps) {
  struct Case {
    std::string ladder;
    std::string steps;
    std::string steps_factor;
  };
  const std::vector<Case> cases = {
      {"[{steps: half}, {steps: half}]", "2", "0.25"},
      {"[{steps: half}, {steps: half, min_steps: 3}]", "3", "0.25"},
      {"[{steps: half}, {attention_slicing: 2}]", "4", "0.5"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.ladder);
    auto server = StartReady(RecoveryChain("{ladder: " + c.ladder + "}", "{fail_first_n: 2}"));
    ASSERT_NE(server, nullptr);
    auto r = server->Post(kGenerations, R"({"prompt":"x","size":"16x16","steps":8})");
    ASSERT_EQ(r.status, 200) << r.body;
    auto json = r.Json();
    EXPECT_EQ(Param(json, "steps"), c.steps) << r.body;
    EXPECT_EQ(Param(json, "steps_factor"), c.steps_factor) << r.body;
  }
}

TEST(RecoveryHttpTest, OtherFailuresPassThroughUntouched) {
  struct Case {
    std::string pipeline;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"{fail_code: INTERNAL}", 500, "internal_error"},
      {"{fail_code: UNAVAILABLE, fail_first_n: 1}", 503, "unavailable"},
      {"{fail_code: INVALID_ARGUMENT, fail_first_n: 1}", 400, "invalid_value"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pipeline);
    auto server = StartReady(RecoveryChain("{}", c.pipeline));
    ASSERT_NE(server, nullptr);
    auto r = server->Post(kGenerations, R"({"prompt":"x","size":"16x16"})");
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(r.ErrorField("code"), c.code) << r.body;
    EXPECT_NE(r.ErrorField("message").find("injected failure on try 1"), std::string::npos)
        << "the pipeline's own message: " << r.body;
    EXPECT_EQ(PipelineCalls(*server), 1) << "no retry";
  }
}

TEST(RecoveryHttpTest, AnExhaustedLadderIsOutOfMemoryAfterMaxAttempts) {
  struct Case {
    std::string recovery;
    int tries;
  };
  const std::vector<Case> cases = {
      {"{max_attempts: 3, ladder: [{empty_cache: true}, {vae_tiling: true}, {offload: model}]}", 3},
      {"{max_attempts: 10, ladder: [{empty_cache: true}, {vae_tiling: true}]}", 3},
      {"{max_attempts: 1}", 1},
      {"{}", 7},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.recovery);
    auto server = StartReady(RecoveryChain(c.recovery, "{fail_code: RESOURCE_EXHAUSTED}"));
    ASSERT_NE(server, nullptr);
    auto r = server->Post(kGenerations, R"({"prompt":"x","size":"16x16"})");
    EXPECT_EQ(r.status, 500) << r.body;
    EXPECT_EQ(r.ErrorField("code"), "out_of_memory") << r.body;
    EXPECT_EQ(PipelineCalls(*server), c.tries);
    // The rungs taken before giving up travel with the error.
    auto json = r.Json();
    if (c.tries > 1) {
      ASSERT_TRUE(json->has("fallback_reason")) << r.body;
      auto reason = json->getObject("fallback_reason");
      EXPECT_EQ(reason->getValue<int>("attempts"), c.tries) << r.body;
      EXPECT_EQ(reason->getArray("steps")->size(), size_t(c.tries - 1)) << r.body;
    } else {
      EXPECT_FALSE(json->has("fallback_reason")) << r.body;
    }
  }
}

// Two recovery stages with different ladders, each in front of its own model.
std::string TwoModels(const std::string& ladder_a, const std::string& ladder_b) {
  return "stages:\n"
         "  - {id: oom_a, kind: recovery, library: flx_recovery, type: ladder, config: {ladder: " +
         ladder_a +
         "}}\n"
         "  - {id: oom_b, kind: recovery, library: flx_recovery, type: ladder, config: {ladder: " +
         ladder_b +
         "}}\n"
         "  - {id: pipe_a, kind: pipeline, library: flx_test_pipeline, type: test, config: "
         "{fail_first_n: 1}}\n"
         "  - {id: pipe_b, kind: pipeline, library: flx_test_pipeline, type: test, config: "
         "{fail_first_n: 1}}\n"
         "models:\n"
         "  model-a: [oom_a, pipe_a]\n"
         "  model-b: [oom_b, pipe_b]\n";
}

TEST(RecoveryHttpTest, TwoModelsInOneServerUseTheirOwnLadders) {
  auto server = StartReady(
      TwoModels("[{attention_slicing: max}]", "[{dtype: fp32, reason: mps_fp16_failure}]"));
  ASSERT_NE(server, nullptr);
  auto a = server->Post(kGenerations, R"({"prompt":"x","size":"16x16","model":"model-a"})");
  auto b = server->Post(kGenerations, R"({"prompt":"x","size":"16x16","model":"model-b"})");
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_EQ(FallbackCodes(a.Json()), std::vector<std::string>{"attention_slicing"});
  EXPECT_EQ(FallbackSteps(a.Json(), "stage"), std::vector<std::string>{"oom_a"});
  EXPECT_EQ(Param(a.Json(), "attention_slicing"), "max");
  EXPECT_EQ(Param(a.Json(), "dtype"), "");
  EXPECT_EQ(FallbackCodes(b.Json()), std::vector<std::string>{"mps_fp16_failure"});
  EXPECT_EQ(FallbackSteps(b.Json(), "stage"), std::vector<std::string>{"oom_b"});
  EXPECT_EQ(Param(b.Json(), "dtype"), "float32");
  EXPECT_EQ(Param(b.Json(), "attention_slicing"), "");
}

// The same graph text but for its ladder, served one after the other by the same build: the
// behaviour follows the YAML.
TEST(RecoveryHttpTest, SwappingTheLadderIsAYamlEdit) {
  struct Variant {
    std::string ladder;
    std::vector<std::string> codes;
    std::map<std::string, std::string> params;
  };
  const std::vector<Variant> variants = {
      {"[{empty_cache: true}, {vae_slicing: true}]",
       {"empty_cache", "vae_slicing"},
       {{"empty_cache", "true"}, {"vae_slicing", "true"}, {"offload", ""}}},
      {"[{offload: sequential}, {vae_tiling: true, vae_slicing: true}]",
       {"offload", "vae_tiling+vae_slicing"},
       {{"empty_cache", ""}, {"vae_slicing", "true"}, {"offload", "sequential"}}},
  };
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.ladder);
    auto server = StartReady(RecoveryChain("{ladder: " + v.ladder + "}", "{fail_first_n: 2}"));
    ASSERT_NE(server, nullptr);
    auto r = server->Post(kGenerations, R"({"prompt":"x","size":"16x16"})");
    ASSERT_EQ(r.status, 200) << r.body;
    auto json = r.Json();
    EXPECT_EQ(FallbackCodes(json), v.codes);
    for (const auto& [key, value] : v.params) EXPECT_EQ(Param(json, key), value) << key;
  }
}

TEST(RecoveryHttpTest, RetriesWaitTheirDelay) {
  struct Case {
    std::string recovery;
    std::string pipeline;
    double at_least_s;
  };
  const std::vector<Case> cases = {
      {"{ladder: [{empty_cache: true, delay_ms: 300}]}", "{fail_first_n: 1}", 0.3},
      {"{delay_ms: 150, ladder: [{empty_cache: true}, {vae_tiling: true}]}", "{fail_first_n: 2}",
       0.3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.recovery);
    auto server = StartReady(RecoveryChain(c.recovery, c.pipeline));
    ASSERT_NE(server, nullptr);
    const auto started = std::chrono::steady_clock::now();
    auto r = server->Post(kGenerations, R"({"prompt":"x","size":"16x16"})");
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_GE(elapsed, c.at_least_s);
    EXPECT_GE(r.Json()->getObject("timings")->getValue<double>("generate_s"), c.at_least_s)
        << "generate_s counts recovery delays";
  }
}

}  // namespace
}  // namespace flx::test
