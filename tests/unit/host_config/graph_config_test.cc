// What a valid graph decodes to. The error side is covered by the golden files in
// tests/configs/bad.
#include "config/graph_config.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "config/config_node.h"
#include "error.h"
#include "support/temp_dir.h"

namespace flx {
namespace {

// The design guide's example, with line numbers the assertions rely on.
constexpr const char* kExample =
    "version: 1\n"                                                                  // 1
    "server: { listen: \"0.0.0.0:9000\", output_dir: out, max_body_bytes: 2048,\n"  // 2
    "          threads: 8, max_queued_connections: 16, shutdown_grace_s: 2.5,\n"    // 3
    "          public_base_url: \"https://img.example.com/\" }\n"                   // 4
    "plugin_paths: [./build/plugins, /opt/flx/plugins]\n"                           // 5
    "stages:\n"                                                                     // 6
    "  - { id: queue, kind: scheduler, library: flx_scheduler, type: fifo,\n"       // 7
    "      config: { max_concurrent: 1, max_queue: 32 } }\n"                        // 8
    "  - { id: oom, kind: recovery, library: flx_recovery, type: ladder,\n"         // 9
    "      config: { ladder: [ {empty_cache: true}, {steps: half} ] } }\n"          // 10
    "  - id: schnell\n"                                                             // 11
    "    kind: pipeline\n"                                                          // 12
    "    library: flx_pipeline_flux\n"                                              // 13
    "    type: flux\n"                                                              // 14
    "    config:\n"                                                                 // 15
    "      model: \"${FLUX_MODEL:-models/demo}\"\n"                                 // 16
    "      device: ${FLX_DEVICE}\n"                                                 // 17
    "  - { id: prom, kind: metrics, library: flx_metrics, type: prometheus }\n"     // 18
    "models:\n"                                                                     // 19
    "  flux-schnell: [queue, oom, schnell]\n"                                       // 20
    "  bare: [schnell]\n"                                                           // 21
    "observers: [prom]\n"                                                           // 22
    "logging: { format: json, level: debug }\n";                                    // 23

Environment ExampleEnv() { return Environment::FromMap({{"FLX_DEVICE", "cpu"}}); }

TEST(GraphConfigTest, DecodesEverySection) {
  Diagnostics diags;
  StatusOr<GraphConfig> parsed =
      ParseGraphConfig(kExample, "/etc/flx/g.yaml", ExampleEnv(), &diags);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(diags.empty()) << diags.ToString();
  const GraphConfig& g = *parsed;
  EXPECT_EQ(g.file, "/etc/flx/g.yaml");
  EXPECT_EQ(g.base_dir, "/etc/flx");
  EXPECT_EQ(g.version, 1);

  EXPECT_EQ(g.server.listen, "0.0.0.0:9000");
  EXPECT_EQ(g.server.listen_location, (SourceLocation{"/etc/flx/g.yaml", 2, 19}));
  EXPECT_EQ(g.server.output_dir, "/etc/flx/out");
  EXPECT_EQ(g.server.max_body_bytes, 2048u);
  EXPECT_EQ(g.server.threads, 8);
  EXPECT_EQ(g.server.max_queued_connections, 16);
  EXPECT_DOUBLE_EQ(g.server.shutdown_grace_s, 2.5);
  EXPECT_EQ(g.server.public_base_url, "https://img.example.com");

  EXPECT_EQ(g.plugin_paths,
            (std::vector<std::string>{"/etc/flx/build/plugins", "/opt/flx/plugins"}));

  ASSERT_EQ(g.stages.size(), 4u);
  const StageConfig& queue = g.stages[0];
  EXPECT_EQ(queue.id, "queue");
  EXPECT_EQ(queue.kind, FLX_KIND_SCHEDULER);
  EXPECT_EQ(queue.library, "flx_scheduler");
  EXPECT_EQ(queue.type, "fifo");
  EXPECT_EQ(queue.path, "stages[0]");
  EXPECT_EQ(queue.location.line, 7);
  EXPECT_EQ(queue.config_location, (SourceLocation{"/etc/flx/g.yaml", 8, 15}));
  EXPECT_EQ(queue.config["max_queue"].as<std::string>(), "32");
  EXPECT_EQ(g.stages[1].kind, FLX_KIND_RECOVERY);
  EXPECT_EQ(g.stages[2].kind, FLX_KIND_PIPELINE);
  EXPECT_EQ(g.stages[3].kind, FLX_KIND_METRICS);
  EXPECT_TRUE(g.stages[3].config.IsMap());
  EXPECT_EQ(g.stages[3].config.size(), 0u);
  EXPECT_EQ(g.stages[3].config_location, g.stages[3].location);

  ASSERT_EQ(g.models.size(), 2u);
  EXPECT_EQ(g.models[0].id, "flux-schnell");
  EXPECT_EQ(g.models[0].chain, (std::vector<std::string>{"queue", "oom", "schnell"}));
  EXPECT_EQ(g.models[0].location.line, 20);
  EXPECT_EQ(g.models[1].id, "bare");
  EXPECT_EQ(g.observers, (std::vector<std::string>{"prom"}));
  EXPECT_EQ(g.logging.format, "json");
  EXPECT_EQ(g.logging.level, "debug");

  ASSERT_NE(g.FindStage("oom"), nullptr);
  EXPECT_EQ(g.FindStage("oom")->type, "ladder");
  EXPECT_EQ(g.FindStage("nope"), nullptr);
}

TEST(GraphConfigTest, DefaultsWhenSectionsAreLeftOut) {
  const char* yaml =
      "version: 1\n"
      "stages: [{id: p, kind: pipeline, library: lib, type: t}]\n"
      "models: {m: [p]}\n";
  StatusOr<GraphConfig> parsed = ParseGraphConfig(yaml, "dir/min.yaml", Environment(), nullptr);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const ServerConfig defaults;
  const std::string base = (std::filesystem::current_path() / "dir").lexically_normal().string();
  EXPECT_EQ(parsed->base_dir, base);
  EXPECT_EQ(parsed->server.listen, defaults.listen);
  EXPECT_EQ(parsed->server.output_dir, base + "/outputs");
  EXPECT_EQ(parsed->server.max_body_bytes, defaults.max_body_bytes);
  EXPECT_EQ(parsed->server.threads, defaults.threads);
  EXPECT_EQ(parsed->server.public_base_url, "");
  EXPECT_TRUE(parsed->plugin_paths.empty());
  EXPECT_TRUE(parsed->observers.empty());
  EXPECT_EQ(parsed->logging.format, "text");
  EXPECT_EQ(parsed->logging.level, "info");
}

TEST(GraphConfigTest, AModelMayBeAMapWithItsLoadMode) {
  const char* yaml =
      "version: 1\n"
      "server: {admin_keys: [\"a1\", \"\"]}\n"
      "stages: [{id: p, kind: pipeline, library: lib, type: t}]\n"
      "models:\n"
      "  plain: [p]\n"
      "  later: {chain: [p], load: lazy}\n"
      "  asked: {chain: [p], load: manual}\n";
  StatusOr<GraphConfig> parsed = ParseGraphConfig(yaml, "m.yaml", Environment(), nullptr);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->models.size(), 3u);
  EXPECT_EQ(parsed->models[0].load, ModelLoad::kEager);
  EXPECT_EQ(parsed->models[1].load, ModelLoad::kLazy);
  EXPECT_EQ(parsed->models[1].chain, std::vector<std::string>{"p"});
  EXPECT_EQ(parsed->models[2].load, ModelLoad::kManual);
  EXPECT_EQ(parsed->server.admin_keys, std::vector<std::string>{"a1"}) << "empty keys skipped";
}

TEST(GraphConfigTest, BadModelMapsAreLocated) {
  const char* yaml =
      "version: 1\n"
      "stages: [{id: p, kind: pipeline, library: lib, type: t}]\n"
      "models:\n"
      "  a: {load: lazy}\n"
      "  b: {chain: [p], load: sometimes}\n"
      "  c: {chain: [p], lode: lazy}\n";
  Diagnostics diags;
  StatusOr<GraphConfig> parsed = ParseGraphConfig(yaml, "m.yaml", Environment(), &diags);
  EXPECT_FALSE(parsed.ok());
  const std::string text = diags.ToString();
  EXPECT_NE(text.find("m.yaml:4:"), std::string::npos) << text;
  EXPECT_NE(text.find("missing 'chain'"), std::string::npos) << text;
  EXPECT_NE(text.find("m.yaml:5:"), std::string::npos) << text;
  EXPECT_NE(text.find("sometimes"), std::string::npos) << text;
  EXPECT_NE(text.find("lode"), std::string::npos) << text;
}

TEST(GraphConfigTest, ExpansionKeepsLocationsForPlugins) {
  StatusOr<GraphConfig> parsed = ParseGraphConfig(kExample, "g.yaml", ExampleEnv(), nullptr);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const StageConfig* schnell = parsed->FindStage("schnell");
  ASSERT_NE(schnell, nullptr);
  auto tree = MakeConfigTree(schnell->config, schnell->config_location, schnell->path + ".config",
                             parsed->file, schnell->id);
  const flx_config* root = ConfigTreeRoot(*tree);
  int found = 0;
  const char* model = nullptr;
  ASSERT_EQ(ConfigGetString(root, "model", &found, &model), nullptr);
  EXPECT_STREQ(model, "models/demo");
  int64_t as_int = 0;
  flx_error* error = ConfigGetInt(root, "device", &found, &as_int);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(ConsumeError(error).message(),
            "g.yaml:17:15: stages[2].config.device: expected an integer, got 'cpu'");

  Diagnostics unread;
  ReportUnreadKeys(*tree, &unread);
  EXPECT_TRUE(unread.empty()) << unread.ToString();
}

TEST(GraphConfigTest, EnvironmentValueWinsOverDefault) {
  Environment env = Environment::FromMap({{"FLX_DEVICE", "cuda"}, {"FLUX_MODEL", "/m/dev"}});
  StatusOr<GraphConfig> parsed = ParseGraphConfig(kExample, "g.yaml", env, nullptr);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const YAML::Node& config = parsed->FindStage("schnell")->config;
  EXPECT_EQ(config["model"].as<std::string>(), "/m/dev");
  EXPECT_EQ(config["device"].as<std::string>(), "cuda");
}

TEST(GraphConfigTest, AliasedScalarIsExpandedOnce) {
  const char* yaml =
      "version: 1\n"
      "stages:\n"
      "  - {id: p, kind: pipeline, library: lib, type: t,\n"
      "     config: {a: &price \"$${NOT_A_VAR}\", b: *price}}\n"
      "models: {m: [p]}\n";
  StatusOr<GraphConfig> parsed = ParseGraphConfig(yaml, "a.yaml", Environment(), nullptr);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const YAML::Node& config = parsed->stages[0].config;
  EXPECT_EQ(config["a"].as<std::string>(), "${NOT_A_VAR}");
  EXPECT_EQ(config["b"].as<std::string>(), "${NOT_A_VAR}");
}

TEST(GraphConfigTest, WarningsAloneDoNotFail) {
  const char* yaml =
      "version: 1\n"
      "stages:\n"
      "  - {id: p, kind: pipeline, library: lib, type: t}\n"
      "  - {id: spare, kind: recovery, library: lib, type: t}\n"
      "models: {m: [p]}\n";
  Diagnostics diags;
  StatusOr<GraphConfig> parsed = ParseGraphConfig(yaml, "w.yaml", Environment(), &diags);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(diags.ToString(),
            "w.yaml:4:5: warning: stages[1]: stage 'spare' is not used by any model, observer or job_queue");
}

TEST(GraphConfigTest, ErrorStatusCarriesAllDiagnostics) {
  const char* yaml = "version: 2\nstages: []\nmodels: {}\nbogus: 1\n";
  Diagnostics diags;
  StatusOr<GraphConfig> parsed = ParseGraphConfig(yaml, "e.yaml", Environment(), &diags);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), FLX_INVALID_ARGUMENT);
  EXPECT_EQ(diags.error_count(), 3) << diags.ToString();
  EXPECT_EQ(parsed.status().message(), diags.ToString());
}

TEST(GraphConfigTest, LoadReadsFileAndResolvesAgainstItsDirectory) {
  test::TempDir dir;
  std::string path = dir.write("graph.yaml",
                               "version: 1\n"
                               "server: {output_dir: ../images}\n"
                               "plugin_paths: [plugins/]\n"
                               "stages: [{id: p, kind: pipeline, library: lib, type: t}]\n"
                               "models: {m: [p]}\n");
  Diagnostics diags;
  StatusOr<GraphConfig> loaded = LoadGraphConfig(path, Environment(), &diags);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const std::filesystem::path base(dir.path());
  EXPECT_EQ(loaded->file, path);
  EXPECT_EQ(loaded->base_dir, base.string());
  EXPECT_EQ(loaded->plugin_paths, (std::vector<std::string>{(base / "plugins").string()}));
  EXPECT_EQ(loaded->server.output_dir, (base.parent_path() / "images").string());
}

TEST(GraphConfigTest, LoadOfMissingFileIsNotFound) {
  test::TempDir dir;
  const std::string path = dir.path() + "/missing.yaml";
  Diagnostics diags;
  StatusOr<GraphConfig> loaded = LoadGraphConfig(path, Environment(), &diags);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), FLX_NOT_FOUND);
  EXPECT_EQ(diags.ToString(),
            path + ": error: cannot read the configuration file: No such file or directory");
}

TEST(GraphConfigTest, LoadOfDirectoryIsNotFound) {
  test::TempDir dir;
  Diagnostics diags;
  StatusOr<GraphConfig> loaded = LoadGraphConfig(dir.path(), Environment(), &diags);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), FLX_NOT_FOUND);
  EXPECT_EQ(diags.ToString(),
            dir.path() + ": error: cannot read the configuration file: Is a directory");
}

}  // namespace
}  // namespace flx

namespace flx {
namespace {

TEST(GraphConfigTest, JobSettingsAreReadAndCheckedWithTheirPath) {
  const std::string head =
      "version: 1\n"
      "stages: [{id: p, kind: pipeline, library: flx_test_pipeline, type: test}]\n"
      "models: {m: [p]}\n";
  Diagnostics diags;
  StatusOr<GraphConfig> parsed = ParseGraphConfig(
      head + "server: {job_ttl_s: 60, max_active_jobs: 3, max_kept_jobs: 7, "
             "max_job_result_bytes: 4096}\n",
      "/g.yaml", Environment::FromMap({}), &diags);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_DOUBLE_EQ(parsed->server.job_ttl_s, 60);
  EXPECT_EQ(parsed->server.max_active_jobs, 3);
  EXPECT_EQ(parsed->server.max_kept_jobs, 7);
  EXPECT_EQ(parsed->server.max_job_result_bytes, 4096);

  Diagnostics bad;
  StatusOr<GraphConfig> refused = ParseGraphConfig(
      head + "server: {job_ttl_s: 0, max_active_jobs: 0}\n", "/g.yaml",
      Environment::FromMap({}), &bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(bad.ToString().find("server.job_ttl_s"), std::string::npos) << bad.ToString();
  EXPECT_NE(bad.ToString().find("server.max_active_jobs"), std::string::npos) << bad.ToString();
}

}  // namespace
}  // namespace flx
