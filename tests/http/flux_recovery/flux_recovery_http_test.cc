// The flux stage's out-of-memory path through a real in-process server: fault injection makes
// chosen tries fail as out of memory, the recovery ladder retries, the response says what it
// got (fallback_reason, parameters) and /metrics counts the failures and the rungs taken.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/graph_config.h"
#include "flux_test_support.h"
#include "stage_graph.h"
#include "test_server.h"

namespace flx::test {
namespace {

constexpr const char* kGenerations = "/v1/images/generations";
constexpr const char* kModel = "flux-test";

// The demo model, written once for every test of this binary.
class FluxRecoveryTest : public DemoModelTest {
 protected:
  // A FIFO queue, a ladder with `ladder`, the prometheus stage and a flux stage on the demo
  // model whose config ends with `flux_extra`, serving model flux-test.
  static std::string Graph(const std::string& ladder, const std::string& flux_extra) {
    return "stages:\n"
           "  - {id: queue, kind: scheduler, library: flx_scheduler, type: fifo,\n"
           "     config: {max_concurrent: 1, max_queue: 4}}\n"
           "  - {id: oom, kind: recovery, library: flx_recovery, type: ladder,\n"
           "     config: {ladder: " +
           ladder +
           "}}\n"
           "  - {id: prom, kind: metrics, library: flx_metrics, type: prometheus, config: {}}\n"
           "  - {id: flux, kind: pipeline, library: flx_pipeline_flux, type: flux,\n"
           "     config: {model: \"" +
           model() + "\", threads: 2, warmup: false, default_width: 64, default_height: 64, " +
           flux_extra +
           "}}\n"
           "models:\n"
           "  flux-test: [queue, oom, flux]\n"
           "observers: [prom]\n";
  }

  static std::unique_ptr<TestServer> StartReady(const std::string& graph) {
    auto server = TestServer::Start(graph);
    if (server != nullptr) {
      EXPECT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }, 60));
    }
    return server;
  }
};

// The value of `series` in /metrics once it equals `expected` (events reach the metrics
// stage asynchronously), else the last value seen (-1: absent).
double MetricOnceSettled(const TestServer& server, const std::string& series, double expected) {
  double value = -1;
  WaitFor([&] {
    const auto samples = MetricSamples(server.Get("/metrics").body);
    const auto it = samples.find(series);
    value = it == samples.end() ? -1 : it->second;
    return value == expected;
  });
  return value;
}

TEST_F(FluxRecoveryTest, InjectedOutOfMemoryIsRecoveredAndCounted) {
  auto server = StartReady(Graph("[{empty_cache: true}]", "fault_injection: {oom_first_n: 1}"));
  ASSERT_NE(server, nullptr);
  auto r = server->Post(kGenerations, R"({"prompt":"a lighthouse","size":"64x64","steps":1})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto json = r.Json();
  ASSERT_TRUE(json->has("fallback_reason")) << r.body;
  EXPECT_EQ(json->getObject("fallback_reason")->getValue<std::string>("code"), "empty_cache");
  EXPECT_EQ(FallbackSteps(json, "code"), std::vector<std::string>{"empty_cache"});
  const std::vector<std::string> messages = FallbackSteps(json, "message");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].rfind("out of memory (injected: try 1 of the first 1 (oom_first_n))", 0),
            0u)
      << messages[0];
  EXPECT_EQ(Param(json, "empty_cache"), "true") << "the stage reports the override it applied";
  EXPECT_EQ(json->getValue<std::string>("size"), "64x64");

  const std::string model = std::string("{model=\"") + kModel + "\"";
  EXPECT_EQ(MetricOnceSettled(*server, "fluxserve_oom_total" + model + "}", 1), 1);
  EXPECT_EQ(
      MetricOnceSettled(*server, "fluxserve_fallbacks_total" + model + ",rung=\"empty_cache\"}", 1),
      1);

  auto again = server->Post(kGenerations, R"({"prompt":"a lighthouse","size":"64x64","steps":1})");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_FALSE(again.Json()->has("fallback_reason")) << "only the stage's first try fails";
  EXPECT_EQ(MetricOnceSettled(*server, "fluxserve_requests_total" + model + ",status=\"200\"}", 2),
            2);
  EXPECT_EQ(MetricOnceSettled(*server, "fluxserve_oom_total" + model + "}", 1), 1);

  const std::string promtool = FindOnPath("promtool");
  if (promtool.empty()) {
    GTEST_SKIP() << "promtool is not on PATH (Debian: apt-get install prometheus); the "
                    "exposition was not checked by a Prometheus parser";
  }
  const std::string file = server->output_dir() + "/metrics.txt";
  const std::string exposition = server->Get("/metrics").body;
  std::ofstream(file) << exposition;
  std::string output;
  EXPECT_EQ(RunCommand("'" + promtool + "' check metrics < '" + file + "'", &output), 0)
      << "promtool check metrics:\n"
      << output << "\non:\n"
      << exposition;
}

TEST_F(FluxRecoveryTest, TriesAbovePixelsAreHalvedUntilTheyFit) {
  auto server = StartReady(Graph("[{resolution: half, min_side: 16}, {resolution: half}]",
                                 "fault_injection: {oom_above_pixels: 4096}"));
  ASSERT_NE(server, nullptr);
  struct Case {
    std::string size;
    std::string returned;
    std::vector<std::string> codes;
  };
  const std::vector<Case> cases = {
      {"128x128", "64x64", {"resolution_halved"}},
      {"256x128", "64x32", {"resolution_halved", "resolution_halved"}},
      {"64x64", "64x64", {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.size);
    auto r = server->Post(kGenerations,
                          R"({"prompt":"a lighthouse","steps":1,"size":")" + c.size + "\"}");
    ASSERT_EQ(r.status, 200) << r.body;
    auto json = r.Json();
    EXPECT_EQ(json->getValue<std::string>("size"), c.returned);
    EXPECT_EQ(FallbackSteps(json, "code"), c.codes);
    const std::string returned_width = c.returned.substr(0, c.returned.find('x'));
    EXPECT_EQ(Param(json, "width"), returned_width) << r.body;
    for (const std::string& message : FallbackSteps(json, "message")) {
      EXPECT_NE(message.find("(oom_above_pixels)"), std::string::npos) << message;
    }
  }
}

TEST_F(FluxRecoveryTest, DtypeInjectionFailsOnlyTriesInThatDtype) {
  struct Case {
    std::string dtype;
    int status;
  };
  for (const Case& c : {Case{"bfloat16", 500}, Case{"float32", 200}}) {
    SCOPED_TRACE(c.dtype);
    auto server =
        StartReady(Graph("[{empty_cache: true}]",
                         "dtype: " + c.dtype + ", fault_injection: {oom_when_dtype: bfloat16}"));
    ASSERT_NE(server, nullptr);
    auto r = server->Post(kGenerations, R"({"prompt":"a lighthouse","size":"64x64","steps":1})");
    ASSERT_EQ(r.status, c.status) << r.body;
    if (c.status == 200) {
      EXPECT_FALSE(r.Json()->has("fallback_reason")) << r.body;
      continue;
    }
    // empty_cache does not change the dtype, so the retry fails too and the ladder runs out.
    EXPECT_EQ(r.ErrorField("code"), "out_of_memory") << r.body;
    EXPECT_EQ(r.ErrorField("message"),
              "out of memory (injected: computing in bfloat16 (oom_when_dtype))")
        << r.body;
    EXPECT_EQ(FallbackSteps(r.Json(), "code"), std::vector<std::string>{"empty_cache"}) << r.body;
  }
}

TEST_F(FluxRecoveryTest, DtypeRungRunsTheTryInThatDtype) {
  // The stage loads bfloat16; the first try fails (injected for bfloat16), the ladder asks for
  // float32 and the retry runs on a float32 copy loaded for it, which the next request that
  // needs it reuses.
  auto server = StartReady(
      Graph("[{dtype: float32}]", "dtype: bfloat16, fault_injection: {oom_when_dtype: bfloat16}"));
  ASSERT_NE(server, nullptr);
  for (int request = 0; request < 2; ++request) {
    SCOPED_TRACE(request);
    auto r = server->Post(kGenerations, R"({"prompt":"a lighthouse","size":"64x64","steps":1})");
    ASSERT_EQ(r.status, 200) << r.body;
    auto json = r.Json();
    EXPECT_EQ(FallbackSteps(json, "code"), std::vector<std::string>{"dtype"}) << r.body;
    EXPECT_EQ(Param(json, "dtype"), "float32") << r.body;
    EXPECT_EQ(Param(json, "ignored_overrides"), "") << r.body;
  }
  auto models = server->Get(std::string("/v1/models/") + kModel);
  ASSERT_EQ(models.status, 200) << models.body;
  auto config = models.Json()->getObject("config");
  ASSERT_TRUE(config) << models.body;
  auto variants = config->getArray("loaded_variants");
  ASSERT_TRUE(variants) << models.body;
  ASSERT_EQ(variants->size(), 2u) << models.body;
  EXPECT_EQ(variants->getObject(0)->getValue<std::string>("dtype"), "bfloat16") << models.body;
  EXPECT_EQ(variants->getObject(1)->getValue<std::string>("dtype"), "float32") << models.body;
}

TEST_F(FluxRecoveryTest, WithoutOverrideVariantsADtypeRungIsIgnored) {
  auto server = StartReady(Graph("[{dtype: float32}]",
                                 "dtype: bfloat16, override_variants: 0, "
                                 "fault_injection: {oom_when_dtype: bfloat16}"));
  ASSERT_NE(server, nullptr);
  auto r = server->Post(kGenerations, R"({"prompt":"a lighthouse","size":"64x64","steps":1})");
  ASSERT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(r.ErrorField("code"), "out_of_memory") << r.body;
  EXPECT_EQ(FallbackSteps(r.Json(), "code"), std::vector<std::string>{"dtype"}) << r.body;
}

TEST_F(FluxRecoveryTest, MemoryRungsReachTheEffectiveParameters) {
  auto server = StartReady(Graph("[{attention_slicing: max, vae_tiling: true}, {dtype: fp16}]",
                                 "dtype: float32, fault_injection: {oom_first_n: 1}"));
  ASSERT_NE(server, nullptr);
  auto r = server->Post(kGenerations, R"({"prompt":"a lighthouse","size":"64x64","steps":1})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto json = r.Json();
  EXPECT_EQ(FallbackSteps(json, "code"), (std::vector<std::string>{"attention_slicing+vae_tiling"}))
      << r.body;
  EXPECT_EQ(Param(json, "attention_slicing"), "max") << r.body;
  EXPECT_EQ(Param(json, "vae_tiling"), "true") << r.body;
  EXPECT_EQ(Param(json, "dtype"), "float32") << r.body;
}

TEST_F(FluxRecoveryTest, WeightsBytesGaugeMatchesDescribe) {
  auto server = StartReady(Graph("[{empty_cache: true}]", "dtype: float32"));
  ASSERT_NE(server, nullptr);
  auto r = server->Get(std::string("/v1/models/") + kModel);
  ASSERT_EQ(r.status, 200) << r.body;
  auto config = r.Json()->getObject("config");
  ASSERT_TRUE(config) << r.body;
  const double bytes = config->getValue<double>("weights_bytes");
  EXPECT_GT(bytes, 0) << r.body;
  EXPECT_GT(config->getValue<double>("matmul_gflops"), 0) << "the start-up matmul check ran";
  EXPECT_EQ(MetricOnceSettled(*server, "fluxserve_weights_bytes{stage=\"flux\"}", bytes), bytes);
}

TEST_F(FluxRecoveryTest, DescribeShowsTheInjectionAndNullWithout) {
  for (const bool injected : {true, false}) {
    SCOPED_TRACE(injected ? "with" : "without");
    auto server =
        StartReady(Graph("[{empty_cache: true}]",
                         injected ? "fault_injection: {oom_first_n: 0, oom_above_pixels: 65536}"
                                  : "dtype: float32"));
    ASSERT_NE(server, nullptr);
    auto r = server->Get(std::string("/v1/models/") + kModel);
    ASSERT_EQ(r.status, 200) << r.body;
    auto config = r.Json()->getObject("config");
    ASSERT_TRUE(config) << r.body;
    if (!injected) {
      EXPECT_TRUE(config->isNull("fault_injection")) << r.body;
      continue;
    }
    auto injection = config->getObject("fault_injection");
    ASSERT_TRUE(injection) << r.body;
    EXPECT_EQ(injection->getValue<int>("oom_first_n"), 0);
    EXPECT_EQ(injection->getValue<int>("oom_above_pixels"), 65536);
    EXPECT_FALSE(injection->has("oom_when_dtype"));
  }
}

TEST_F(FluxRecoveryTest, EnabledInjectionIsAnnouncedLoudly) {
  const std::string fluxserve = BuildProgram("fluxserve");
  ASSERT_FALSE(fluxserve.empty()) << "FLX_BIN_DIR is not set (run through ctest)";
  const char* plugin_dir = std::getenv("FLX_PLUGIN_DIR");
  ASSERT_NE(plugin_dir, nullptr) << "FLX_PLUGIN_DIR is not set (run through ctest)";
  TempDir dir;
  const std::string file = dir.path() + "/graph.yaml";
  std::ofstream(file) << "version: 1\nplugin_paths: [\"" << plugin_dir << "\"]\n"
                      << Graph("[{empty_cache: true}]",
                               "fault_injection: {oom_first_n: 2, oom_when_dtype: float16}");
  std::string output;
  EXPECT_EQ(RunCommand("'" + fluxserve + "' check-config '" + file + "'", &output), 0) << output;
  EXPECT_NE(output.find("FAULT INJECTION ENABLED: oom_first_n: 2, oom_when_dtype: float16"),
            std::string::npos)
      << output;
}

TEST_F(FluxRecoveryTest, BadFaultInjectionIsReportedPerKeyWithLocations) {
  const char* plugin_dir = std::getenv("FLX_PLUGIN_DIR");
  ASSERT_NE(plugin_dir, nullptr) << "FLX_PLUGIN_DIR is not set (run through ctest)";
  struct Case {
    std::string fault_injection;
    std::vector<std::string> messages;
  };
  const std::vector<Case> cases = {
      {"{oom_first_n: -1, oom_above_pixels: 0, oom_when_dtype: int8, oom_last_n: 2}",
       {"stages[3].config.fault_injection: oom_first_n must be at least 0, got -1",
        "stages[3].config.fault_injection: oom_above_pixels must be at least 1, got 0",
        "stages[3].config.fault_injection: oom_when_dtype must be one of float32, bfloat16, "
        "float16, got \"int8\"",
        "stages[3].config.fault_injection: unknown key 'oom_last_n' (fault_injection knows "
        "oom_first_n, oom_above_pixels, oom_when_dtype)"}},
      {"{oom_first_n: many}", {"stages[3].config.fault_injection.oom_first_n: "}},
      {"[oom_first_n]", {"stages[3].config.fault_injection: fault_injection must be a map"}},
      {"true", {"stages[3].config.fault_injection: "}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.fault_injection);
    const std::string yaml =
        "version: 1\nplugin_paths: [\"" + std::string(plugin_dir) + "\"]\n" +
        Graph("[{empty_cache: true}]", "fault_injection: " + c.fault_injection);
    Diagnostics diags;
    auto config = ParseGraphConfig(yaml, "flux.yaml", Environment(), &diags);
    ASSERT_TRUE(config.ok()) << diags.ToString();
    auto graph = StageGraph::Build(*config, /*dry_run=*/true, &diags);
    ASSERT_FALSE(graph.ok());
    const std::string text = diags.ToString();
    // Located at the fault_injection value (or inside it): line of the flux stage's config.
    const size_t at = yaml.find(c.fault_injection, yaml.find("fault_injection"));
    const int line = 1 + static_cast<int>(std::count(yaml.begin(), yaml.begin() + at, '\n'));
    EXPECT_NE(text.find("flux.yaml:" + std::to_string(line) + ":"), std::string::npos) << text;
    for (const std::string& expected : c.messages) {
      EXPECT_NE(text.find(expected), std::string::npos) << "missing '" << expected << "' in:\n"
                                                        << text;
    }
  }
}

}  // namespace
}  // namespace flx::test
