// sdk/examples/gradient_pipeline built the way a third party would (against the SDK installed
// from this build into a temporary prefix), then served by a real in-process fluxserve with
// the stock ladder recovery and prometheus metrics stages: the shared vocabulary is all they
// have in common, and it is enough for the recovery's knobs to reach the pipeline and for the
// pipeline's phases to reach /metrics.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "out_of_tree_build.h"
#include "test_server.h"

namespace flx::testing {
namespace {

namespace fs = std::filesystem;

// Installs the SDK under `temp` and builds the gradient example against it alone; the
// plugin library's path, or "" after failing the test.
fs::path BuildGradientExample(const TempDir& temp) {
  if (temp.path().empty()) {
    ADD_FAILURE() << "mkdtemp failed";
    return {};
  }
  const fs::path prefix = temp.path() / "prefix";
  const fs::path build = temp.path() / "build";
  const std::string installed = InstallSdk(prefix);
  if (!installed.empty()) {
    ADD_FAILURE() << installed;
    return {};
  }
  const std::string built = BuildExample("gradient_pipeline", prefix, build);
  if (!built.empty()) {
    ADD_FAILURE() << built;
    return {};
  }
  const fs::path library = build / "flx_gradient_pipeline.so";
  if (!fs::exists(library)) ADD_FAILURE() << "the build did not produce " << library;
  return fs::exists(library) ? library : fs::path();
}

TEST(SdkExamplePipelineTest, ReactsToARecoveryKnobAndItsPhasesAreExported) {
  TempDir temp;
  const fs::path library = BuildGradientExample(temp);
  ASSERT_FALSE(library.empty());

  auto server = flx::test::TestServer::Start(
      "stages:\n"
      "  - {id: retry, kind: recovery, library: flx_recovery, type: ladder,\n"
      "     config: {ladder: [{resolution: half}]}}\n"
      "  - {id: gradient, kind: pipeline, library: \"" +
      library.string() +
      "\", type: gradient,\n"
      "     config: {max_pixels: 65536}}\n"
      "  - {id: prom, kind: metrics, library: flx_metrics, type: prometheus}\n"
      "models:\n"
      "  gradient: [retry, gradient]\n"
      "observers: [prom]\n");
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(flx::test::WaitFor([&] { return server->Get("/readyz").status == 200; }));

  const flx::test::HttpResponse response = server->Post(
      "/v1/images/generations",
      R"({"model": "gradient", "prompt": "a gradient", "size": "512x512", "steps": 8})");
  ASSERT_EQ(response.status, 200) << response.body;
  const auto json = response.Json();
  EXPECT_EQ(flx::test::Param(json, "width"), "256") << "resolution_factor 0.5 applied";
  EXPECT_EQ(flx::test::Param(json, "height"), "256");
  EXPECT_EQ(flx::test::Param(json, "steps"), "8");
  EXPECT_EQ(flx::test::FallbackSteps(json, "code"), (std::vector<std::string>{"resolution_halved"}))
      << response.body;

  const std::string metrics = server->Get("/metrics").body;
  for (const char* phase : {FLX_PHASE_DENOISE, FLX_PHASE_VAE_DECODE}) {
    const std::string series = std::string("fluxserve_phase_seconds_count{model=\"gradient\",") +
                               "phase=\"" + phase + "\"} 1";
    EXPECT_NE(metrics.find(series), std::string::npos) << series << " in\n" << metrics;
  }
  EXPECT_NE(
      metrics.find("fluxserve_fallbacks_total{model=\"gradient\",rung=\"resolution_halved\"} 1"),
      std::string::npos)
      << metrics;
}

TEST(SdkExamplePipelineTest, ItsDeclaredSettingsReachItAsFlagsAndFromTheEnvironment) {
  TempDir temp;
  const fs::path built = BuildGradientExample(temp);
  ASSERT_FALSE(built.empty());
  const std::string library = built.string();
  const char* bin_dir = std::getenv("FLX_BIN_DIR");
  ASSERT_NE(bin_dir, nullptr) << "FLX_BIN_DIR is not set (run through ctest)";
  const std::string fluxserve = std::string(bin_dir) + "/fluxserve";
  const std::string out = (temp.path() / "gradient.png").string();
  auto generate = [&](std::vector<std::string> env, std::vector<std::string> flags) {
    std::vector<std::string> argv = {"env"};
    argv.insert(argv.end(), env.begin(), env.end());
    for (const std::string& arg :
         {fluxserve, std::string("generate"), std::string("--plugin"), library,
          std::string("--prompt"), std::string("g"), std::string("--out"), out}) {
      argv.push_back(arg);
    }
    argv.insert(argv.end(), flags.begin(), flags.end());
    return RunCommand(argv);
  };

  const CommandResult help = RunCommand({fluxserve, "generate", "--plugin", library, "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_NE(help.output.find("pipeline settings (" + library + ", type gradient)"),
            std::string::npos)
      << help.output;
  EXPECT_NE(help.output.find("--max-pixels N"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("[GRADIENT_MAX_PIXELS]"), std::string::npos) << help.output;
  EXPECT_EQ(help.output.find("--model"), std::string::npos) << "the flux plugin's flags leak";

  const CommandResult plain = generate({}, {"--width", "512", "--height", "512"});
  EXPECT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_TRUE(fs::exists(out)) << plain.output;

  const CommandResult by_flag =
      generate({}, {"--width", "512", "--height", "512", "--max-pixels", "65536"});
  EXPECT_NE(by_flag.exit_code, 0) << by_flag.output;
  EXPECT_NE(by_flag.output.find("out of memory: 512x512"), std::string::npos) << by_flag.output;

  const CommandResult by_env = generate({"GRADIENT_MAX_PIXELS=0"}, {});
  EXPECT_NE(by_env.exit_code, 0) << by_env.output;
  EXPECT_NE(by_env.output.find("max_pixels must be >= 1, got 0"), std::string::npos)
      << by_env.output;

  const CommandResult flag_wins = generate({"GRADIENT_MAX_PIXELS=0"}, {"--max-pixels", "70000"});
  EXPECT_EQ(flag_wins.exit_code, 0) << "a flag wins over the environment: " << flag_wins.output;

  const CommandResult unknown = generate({}, {"--model", "m"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("unknown option '--model'"), std::string::npos) << unknown.output;
}

}  // namespace
}  // namespace flx::testing
