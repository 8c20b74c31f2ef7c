// deploy/ cannot run here (no Docker, no cluster), so this test reads it and holds it to the
// code: the graph it ships is valid and shares jobs through Redis; every port, path, probe,
// environment variable and metric name in the compose file, the Prometheus config and the
// Kubernetes manifests is one the server, its plugins or its config actually use.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "config/declared_settings.h"
#include "config/environment.h"
#include "config/graph_config.h"
#include "event_recorder.h"
#include "plugin_loader.h"

namespace flx {
namespace {

namespace fs = std::filesystem;

// The variables the host reads itself (serve's --help lists them).
const std::set<std::string> kHostVariables = {"FLUX_CONFIG", "FLUX_LISTEN", "FLUX_API_KEYS",
                                              "FLUX_LOG_LEVEL", "FLUX_STRUCTURED_LOGS"};

std::string Deploy(const std::string& name) {
  const char* source = std::getenv("FLX_SOURCE_DIR");
  return std::string(source == nullptr ? "." : source) + "/deploy/" + name;
}

std::string PortOf(const std::string& listen) { return listen.substr(listen.rfind(':') + 1); }

class DeployManifestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Diagnostics diags;
    auto loaded = LoadGraphConfig(Deploy("fluxserve.yaml"), Environment(), &diags);
    ASSERT_TRUE(loaded.ok()) << diags.ToString();
    graph_ = *loaded;
    for (const StageConfig& stage : graph_.stages) {
      if (stage.kind == FLX_KIND_METRICS) metrics_path_ = stage.config["path"].as<std::string>();
      if (stage.kind == FLX_KIND_QUEUE) queue_ = &stage;
    }
  }

  // The variables something reads: the host's, the graph's ${...} references and the
  // password_env it names, and the settings each of its plugins declares (when built here).
  std::set<std::string> KnownVariables() const {
    std::set<std::string> known = kHostVariables;
    std::ifstream in(Deploy("fluxserve.yaml"));
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    const std::regex reference(R"(\$\{([A-Z_][A-Z0-9_]*))");
    for (std::sregex_iterator it(text.begin(), text.end(), reference), end; it != end; ++it) {
      known.insert((*it)[1]);
    }
    if (queue_ && queue_->config["password_env"]) {
      known.insert(queue_->config["password_env"].as<std::string>());
    }
    const char* plugins = std::getenv("FLX_PLUGIN_DIR");
    PluginLoader loader({plugins == nullptr ? "" : plugins});
    for (const StageConfig& stage : graph_.stages) {
      auto library = loader.Load(stage.library);
      if (!library.ok()) continue;  // not built here (flx_pipeline_flux without libtorch)
      auto factory = (*library)->FindFactory(stage.kind, stage.type);
      if (!factory.ok()) continue;
      auto declared = ReadDeclaredSettings(**factory, stage.library);
      if (!declared.ok()) continue;
      for (const DeclaredSetting& setting : *declared) {
        if (!setting.env.empty()) known.insert(setting.env);
      }
    }
    return known;
  }

  GraphConfig graph_;
  std::string metrics_path_;
  const StageConfig* queue_ = nullptr;
};

TEST_F(DeployManifestsTest, TheGraphSharesJobsThroughRedisAndServesMetrics) {
  ASSERT_NE(queue_, nullptr);
  EXPECT_EQ(graph_.job_queue, queue_->id);
  EXPECT_EQ(queue_->library, "flx_queue_redis");
  EXPECT_EQ(queue_->type, "redis");
  EXPECT_EQ(metrics_path_, "/metrics");
  EXPECT_EQ(PortOf(graph_.server.listen), "8080");
  // The queue plugin's own settings reader accepts it (what `check-config` runs): the URL is
  // a redis:// URL of the `redis` service.
  EXPECT_EQ(queue_->config["url"].as<std::string>().rfind("redis://redis:6379/", 0), 0u);
}

TEST_F(DeployManifestsTest, ComposeRunsRedisTwoReplicasAndPrometheusThatAgreeWithTheCode) {
  const YAML::Node compose = YAML::LoadFile(Deploy("docker-compose.yml"));
  const YAML::Node services = compose["services"];
  ASSERT_TRUE(services["redis"]);
  ASSERT_TRUE(services["prometheus"]);
  const std::set<std::string> known = KnownVariables();
  std::vector<std::string> targets;
  std::set<std::string> replica_names;
  for (const auto& entry : services) {
    const std::string name = entry.first.as<std::string>();
    if (name.rfind("fluxserve-", 0) != 0) continue;
    const YAML::Node s = entry.second;
    const auto command = s["command"].as<std::vector<std::string>>();
    ASSERT_EQ(command.size(), 3u) << name;
    EXPECT_EQ(command[0], "serve");
    EXPECT_EQ(command[1], "--config");
    bool config_mounted = false;
    for (const auto& volume : s["volumes"]) {
      config_mounted |= volume.as<std::string>() == "./fluxserve.yaml:" + command[2] + ":ro";
    }
    EXPECT_TRUE(config_mounted) << name << " does not mount deploy/fluxserve.yaml at "
                                << command[2];
    const YAML::Node env = s["environment"];
    for (const auto& variable : env) {
      EXPECT_TRUE(known.count(variable.first.as<std::string>()))
          << name << ": nothing reads " << variable.first.as<std::string>();
    }
    const std::string port = PortOf(env["FLUX_LISTEN"].as<std::string>());
    EXPECT_EQ(PortOf(s["ports"][0].as<std::string>()), port) << name;
    EXPECT_EQ(env["FLUX_REDIS_URL"].as<std::string>().rfind("redis://redis:6379/", 0), 0u);
    replica_names.insert(env["FLUX_REPLICA_NAME"].as<std::string>());
    const std::string grace = s["stop_grace_period"].as<std::string>();
    EXPECT_GT(std::stod(grace), graph_.server.shutdown_grace_s) << name;
    targets.push_back(name + ":" + port);
  }
  EXPECT_GE(targets.size(), 2u);
  EXPECT_EQ(replica_names.size(), targets.size()) << "replica names must differ";

  const YAML::Node prometheus = YAML::LoadFile(Deploy("prometheus.yml"));
  const YAML::Node job = prometheus["scrape_configs"][0];
  EXPECT_EQ(job["metrics_path"].as<std::string>(), metrics_path_);
  EXPECT_EQ(job["static_configs"][0]["targets"].as<std::vector<std::string>>(), targets);
}

// The documents of a manifest file, by kind.
std::vector<YAML::Node> Documents(const std::string& name, const std::string& kind) {
  std::vector<YAML::Node> found;
  for (const YAML::Node& doc : YAML::LoadAllFromFile(Deploy(name))) {
    if (doc["kind"] && doc["kind"].as<std::string>() == kind) found.push_back(doc);
  }
  return found;
}

TEST_F(DeployManifestsTest, TheDeploymentsProbesPortsAndDrainMatchTheServer) {
  const auto deployments = Documents("kubernetes/deployment.yaml", "Deployment");
  ASSERT_EQ(deployments.size(), 1u);
  const YAML::Node pod = deployments[0]["spec"]["template"];
  const YAML::Node container = pod["spec"]["containers"][0];
  std::string listen;
  const std::set<std::string> known = KnownVariables();
  for (const auto& variable : container["env"]) {
    const std::string name = variable["name"].as<std::string>();
    EXPECT_TRUE(known.count(name)) << "nothing reads " << name;
    if (name == "FLUX_LISTEN") listen = variable["value"].as<std::string>();
  }
  ASSERT_FALSE(listen.empty());
  const YAML::Node port = container["ports"][0];
  EXPECT_EQ(port["name"].as<std::string>(), "http");
  EXPECT_EQ(port["containerPort"].as<std::string>(), PortOf(listen));
  // The server's probe routes (host/http/handlers.cc): /readyz includes the queue's health.
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz");
  EXPECT_EQ(container["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz");
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["port"].as<std::string>(), "http");
  EXPECT_EQ(container["livenessProbe"]["httpGet"]["port"].as<std::string>(), "http");
  ASSERT_TRUE(container["lifecycle"]["preStop"]);
  EXPECT_GT(pod["spec"]["terminationGracePeriodSeconds"].as<double>(),
            graph_.server.shutdown_grace_s + 5);
  const YAML::Node annotations = pod["metadata"]["annotations"];
  EXPECT_EQ(annotations["prometheus.io/port"].as<std::string>(), PortOf(listen));
  EXPECT_EQ(annotations["prometheus.io/path"].as<std::string>(), metrics_path_);
  // The config comes from the kustomize generator of deploy/fluxserve.yaml.
  const auto args = container["args"].as<std::vector<std::string>>();
  ASSERT_EQ(args.size(), 3u);
  std::string config_dir;
  for (const auto& mount : container["volumeMounts"]) {
    if (mount["name"].as<std::string>() == "config") {
      config_dir = mount["mountPath"].as<std::string>();
    }
  }
  EXPECT_EQ(args[2], config_dir + "/fluxserve.yaml");
  const YAML::Node kustomization = YAML::LoadFile(Deploy("kustomization.yaml"));
  EXPECT_EQ(kustomization["configMapGenerator"][0]["files"][0].as<std::string>(), "fluxserve.yaml");
  for (const auto& resource : kustomization["resources"]) {
    EXPECT_TRUE(fs::exists(Deploy(resource.as<std::string>()))) << resource.as<std::string>();
  }

  const auto services = Documents("kubernetes/service.yaml", "Service");
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services[0]["spec"]["ports"][0]["targetPort"].as<std::string>(), "http");
}

TEST_F(DeployManifestsTest, TheAutoscalerScalesOnAQueueMetricTheServerExports) {
  const auto hpas = Documents("kubernetes/hpa.yaml", "HorizontalPodAutoscaler");
  ASSERT_EQ(hpas.size(), 1u);
  const YAML::Node metric = hpas[0]["spec"]["metrics"][0]["external"]["metric"];
  const std::string name = metric["name"].as<std::string>();
  const std::string model = metric["selector"]["matchLabels"]["model"].as<std::string>();
  bool served = false;
  for (const ModelRoute& route : graph_.models) served |= route.id == model;
  EXPECT_TRUE(served) << "the HPA selects model " << model << ", which the graph does not serve";
  EXPECT_EQ(hpas[0]["spec"]["scaleTargetRef"]["name"].as<std::string>(), "fluxserve");

  // The metrics stage exports that family, labelled by model.
  metrics::EventRecorder recorder(metrics::MetricsSettings{}, metrics::BuildInfo{"1", "1.3"},
                                  [] { return 0.0; });
  flx_event waiting{};
  waiting.struct_size = sizeof(flx_event);
  waiting.type = FLX_EVENT_GAUGE;
  waiting.name = FLX_GAUGE_SHARED_QUEUE_WAITING;
  waiting.model = model.c_str();
  waiting.value = 3;
  recorder.Observe(waiting);
  EXPECT_NE(recorder.Exposition().find(name + "{model=\"" + model + "\"} 3"), std::string::npos)
      << recorder.Exposition();

  const auto adapters = Documents("kubernetes/prometheus-adapter-rules.yaml", "ConfigMap");
  ASSERT_EQ(adapters.size(), 1u);
  const YAML::Node rules = YAML::Load(adapters[0]["data"]["config.yaml"].as<std::string>());
  const YAML::Node rule = rules["externalRules"][0];
  EXPECT_EQ(rule["name"]["as"].as<std::string>(), name);
  EXPECT_EQ(rule["seriesQuery"].as<std::string>().rfind(name + "{", 0), 0u);
  EXPECT_NE(rule["metricsQuery"].as<std::string>().find("by (model)"), std::string::npos);
}

}  // namespace
}  // namespace flx
