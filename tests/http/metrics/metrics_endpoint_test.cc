// The prometheus metrics stage observing a real in-process server: the series a few requests
// leave in /metrics (and, where promtool is installed, Prometheus' own verdict on the
// exposition), the rolling averages /v1/models embeds, and located config errors.
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "config/graph_config.h"
#include "test_server.h"

namespace flx::test {
namespace {

constexpr const char* kGenerations = "/v1/images/generations";

// One slow pipeline behind a scheduler without a queue (so a second concurrent request is
// refused with 429), one pipeline that always runs out of memory, one that does so once and
// succeeds after a recovery rung, and the metrics stage.
std::string Graph(const std::string& metrics_config) {
  return "stages:\n"
         "  - {id: queue, kind: scheduler, library: flx_scheduler, type: fifo,\n"
         "     config: {max_concurrent: 1, max_queue: 0}}\n"
         "  - {id: pipe, kind: pipeline, library: flx_test_pipeline, type: test,\n"
         "     config: {delay_ms: 300}}\n"
         "  - {id: oom_pipe, kind: pipeline, library: flx_test_pipeline, type: test,\n"
         "     config: {fail_code: RESOURCE_EXHAUSTED}}\n"
         "  - {id: flaky, kind: pipeline, library: flx_test_pipeline, type: test,\n"
         "     config: {fail_first_n: 1}}\n"
         "  - {id: retry, kind: recovery, library: flx_recovery, type: ladder,\n"
         "     config: {ladder: [{empty_cache: true, reason: cache_emptied}]}}\n"
         "  - {id: prom, kind: metrics, library: flx_metrics, type: prometheus, config: " +
         metrics_config +
         "}\n"
         "models:\n"
         "  test-model: [queue, pipe]\n"
         "  oom-model: [oom_pipe]\n"
         "  flaky-model: [retry, flaky]\n"
         "observers: [prom]\n";
}

// Sample lines of an exposition keyed by everything before the value.
std::map<std::string, double> Samples(const std::string& exposition) {
  std::map<std::string, double> out;
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

double Sample(const std::map<std::string, double>& samples, const std::string& series) {
  auto it = samples.find(series);
  if (it == samples.end()) {
    ADD_FAILURE() << "missing series " << series;
    return -1;
  }
  return it->second;
}

// The sum of every fluxserve_requests_total series: how many COMPLETED events arrived.
double CompletedRequests(const TestServer& server) {
  double total = 0;
  for (const auto& [series, value] : Samples(server.Get("/metrics").body)) {
    if (series.rfind("fluxserve_requests_total{", 0) == 0) total += value;
  }
  return total;
}

struct Scenario {
  std::unique_ptr<TestServer> server;
  int oom_status = 0;
};

// Seven generation requests: two successes (b64 and url), a 400, a 200 that holds the only
// slot while another request is refused with 429, one that runs out of memory and one that
// succeeds after a fallback. Returns once the metrics stage has seen every request complete
// (COMPLETED follows the response).
Scenario RunRequests(const std::string& metrics_config = "{rolling_window: 10}") {
  Scenario s;
  s.server = TestServer::Start(Graph(metrics_config));
  if (s.server == nullptr) return s;
  TestServer& server = *s.server;
  EXPECT_TRUE(WaitFor([&] { return server.Get("/readyz").status == 200; }));

  auto ok = server.Post(kGenerations, R"({"prompt":"a","size":"16x16","n":2,"steps":3})");
  EXPECT_EQ(ok.status, 200) << ok.body;
  auto url = server.Post(kGenerations,
                         R"({"prompt":"b","size":"16x16","steps":2,"response_format":"url"})");
  EXPECT_EQ(url.status, 200) << url.body;
  auto bad = server.Post(kGenerations, R"({"size":"16x16"})");
  EXPECT_EQ(bad.status, 400) << bad.body;

  HttpResponse slow;
  std::thread holder(
      [&] { slow = server.Post(kGenerations, R"({"prompt":"c","size":"16x16","steps":4})"); });
  EXPECT_TRUE(WaitFor([&] {
    auto samples = Samples(server.Get("/metrics").body);
    auto it = samples.find("fluxserve_in_flight{stage=\"queue\"}");
    return it != samples.end() && it->second == 1;
  })) << "the slow request never became in flight";
  auto refused = server.Post(kGenerations, R"({"prompt":"d","size":"16x16"})");
  EXPECT_EQ(refused.status, 429) << refused.body;
  holder.join();
  EXPECT_EQ(slow.status, 200) << slow.body;

  auto oom = server.Post(kGenerations, R"({"prompt":"e","size":"16x16","model":"oom-model"})");
  EXPECT_GE(oom.status, 400) << oom.body;
  s.oom_status = oom.status;
  auto flaky = server.Post(kGenerations, R"({"prompt":"f","size":"16x16","model":"flaky-model"})");
  EXPECT_EQ(flaky.status, 200) << flaky.body;

  EXPECT_TRUE(WaitFor([&] { return CompletedRequests(server) == 7; }))
      << server.Get("/metrics").body;
  return s;
}

TEST(MetricsEndpointTest, SeriesCountWhatTheRequestsDid) {
  Scenario s = RunRequests();
  ASSERT_NE(s.server, nullptr);
  auto response = s.server->Get("/metrics");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  auto m = Samples(response.body);
  const std::string model = "{model=\"test-model\"}";
  SCOPED_TRACE(response.body);

  EXPECT_EQ(Sample(m, "fluxserve_requests_total{model=\"test-model\",status=\"200\"}"), 3);
  EXPECT_EQ(Sample(m, "fluxserve_requests_total{model=\"test-model\",status=\"429\"}"), 1);
  EXPECT_EQ(Sample(m, "fluxserve_requests_total{model=\"\",status=\"400\"}"), 1);
  EXPECT_EQ(Sample(m, "fluxserve_requests_total{model=\"oom-model\",status=\"" +
                          std::to_string(s.oom_status) + "\"}"),
            1);
  EXPECT_EQ(Sample(m, "fluxserve_images_total" + model), 2 + 1 + 1);
  EXPECT_EQ(Sample(m, "fluxserve_images_total{model=\"oom-model\"}"), 0);
  EXPECT_EQ(Sample(m, "fluxserve_oom_total{model=\"oom-model\"}"), 1);
  EXPECT_EQ(Sample(m, "fluxserve_oom_total" + model), 0);
  EXPECT_EQ(Sample(m, "fluxserve_oom_total{model=\"flaky-model\"}"), 1);
  EXPECT_EQ(Sample(m, "fluxserve_fallbacks_total{model=\"flaky-model\",rung=\"cache_emptied\"}"),
            1);
  EXPECT_EQ(Sample(m, "fluxserve_requests_total{model=\"flaky-model\",status=\"200\"}"), 1);
  EXPECT_EQ(Sample(m, "fluxserve_rejections_total{model=\"test-model\",reason=\"queue_full\"}"), 1);
  EXPECT_EQ(Sample(m, "fluxserve_request_duration_seconds_count" + model), 4);
  EXPECT_EQ(Sample(m, "fluxserve_queue_wait_seconds_count" + model), 3);
  EXPECT_EQ(Sample(m, "fluxserve_step_seconds_count" + model), 3 + 2 + 4);
  EXPECT_EQ(Sample(m, "fluxserve_phase_seconds_count{model=\"test-model\",phase=\"image_encode\"}"),
            3);
  EXPECT_EQ(Sample(m, "fluxserve_phase_seconds_count{model=\"test-model\",phase=\"save\"}"), 1)
      << "only the url request stores files";
  // Three successes of at least 300 ms each (the pipeline's delay_ms).
  EXPECT_GE(Sample(m, "fluxserve_request_duration_seconds_sum" + model), 0.9);
  EXPECT_EQ(
      Sample(m, "fluxserve_request_duration_seconds_bucket{model=\"test-model\",le=\"0.25\"}"), 1)
      << "only the 429 answered in under 250 ms";
  // No request ever waited (max_queue: 0), so the scheduler never reported a queue depth.
  EXPECT_EQ(m.count("fluxserve_queue_depth{stage=\"queue\"}"), 0u);
  EXPECT_EQ(Sample(m, "fluxserve_in_flight{stage=\"queue\"}"), 0);
  EXPECT_EQ(Sample(m, "fluxserve_model_ready{stage=\"pipe\"}"), 1);
  EXPECT_EQ(Sample(m, "fluxserve_model_ready{stage=\"oom_pipe\"}"), 1);
  EXPECT_GT(Sample(m, "fluxserve_process_resident_memory_bytes"), 1 << 20);
  EXPECT_EQ(
      Sample(m, "fluxserve_build_info{version=\"1.0.0\",abi=\"" + std::to_string(FLX_ABI_MAJOR) +
                    "." + std::to_string(FLX_ABI_MINOR) + "\"}"),
      1);
}

TEST(MetricsEndpointTest, HistogramBucketsAreCumulativeAndEndAtCount) {
  Scenario s = RunRequests();
  ASSERT_NE(s.server, nullptr);
  std::string body = s.server->Get("/metrics").body;
  // Walks the bucket lines in order: within one series counts never drop, and the +Inf
  // bucket equals the series' _count.
  std::istringstream in(body);
  std::string line, series;
  double previous = 0;
  int histograms = 0;
  auto samples = Samples(body);
  while (std::getline(in, line)) {
    size_t bucket = line.find("_bucket{");
    if (line.empty() || line[0] == '#' || bucket == std::string::npos) continue;
    size_t le = line.find("le=\"");
    std::string key = line.substr(0, le);
    double value = std::stod(line.substr(line.rfind(' ') + 1));
    if (key != series) {
      series = key;
      previous = 0;
    }
    EXPECT_GE(value, previous) << line;
    previous = value;
    if (line.find("le=\"+Inf\"") != std::string::npos) {
      ++histograms;
      // `key` is "<name>_bucket{" or "<name>_bucket{<labels>,": the same labels, closed.
      std::string labels = key.substr(bucket + std::string("_bucket").size());
      labels.pop_back();
      if (!labels.empty()) labels.push_back('}');
      EXPECT_EQ(Sample(samples, line.substr(0, bucket) + "_count" + labels), value) << line;
    }
  }
  EXPECT_GE(histograms, 6) << body;
}

// Returns promtool's path, or "" when it is not on PATH.
std::string FindPromtool() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::filesystem::path candidate = std::filesystem::path(dir) / "promtool";
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

TEST(MetricsEndpointTest, PromtoolAcceptsTheExposition) {
  std::string promtool = FindPromtool();
  if (promtool.empty()) {
    GTEST_SKIP() << "promtool is not on PATH (Debian: apt-get install prometheus); the "
                    "exposition is still checked by the other tests";
  }
  Scenario s = RunRequests();
  ASSERT_NE(s.server, nullptr);
  std::string body = s.server->Get("/metrics").body;
  std::string file = s.server->output_dir() + "/metrics.txt";
  std::ofstream(file) << body;
  std::string command = promtool + " check metrics < '" + file + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr) << command;
  std::string output;
  char chunk[4096];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof(chunk), pipe)) > 0) output.append(chunk, got);
  int status = ::pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status)) << command;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "promtool check metrics:\n" << output << "\non:\n" << body;
}

TEST(MetricsEndpointTest, JobsReplaysAndDeadlinesAreExported) {
  auto server = TestServer::Start(Graph("{rolling_window: 10}"));
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }));
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "metrics-1"}};
  const std::string body = R"({"prompt":"a","size":"16x16","steps":2,"background":true})";
  HttpResponse job = server->Post(kGenerations, body, key);
  ASSERT_EQ(job.status, 202) << job.body;
  const std::string path =
      std::string(kGenerations) + "/" + job.Json()->getValue<std::string>("id");
  ASSERT_TRUE(WaitFor(
      [&] { return server->Get(path).Json()->getValue<std::string>("status") == "succeeded"; }));
  EXPECT_EQ(server->Post(kGenerations, body, key).status, 202);  // a replay
  HttpResponse late =
      server->Post(kGenerations, R"({"prompt":"b","size":"16x16","timeout_s":0.05})");
  EXPECT_EQ(late.status, 504) << late.body;
  ASSERT_TRUE(WaitFor([&] { return CompletedRequests(*server) == 2; }));
  const auto m = Samples(server->Get("/metrics").body);
  const std::string model = "{model=\"test-model\"}";
  EXPECT_EQ(Sample(m, "fluxserve_jobs_total{model=\"test-model\",status=\"succeeded\"}"), 1);
  EXPECT_EQ(Sample(m, "fluxserve_job_run_seconds_count" + model), 1);
  EXPECT_GE(Sample(m, "fluxserve_job_run_seconds_sum" + model), 0.3) << "delay_ms 300";
  EXPECT_EQ(Sample(m, "fluxserve_idempotent_replays_total" + model), 1);
  EXPECT_EQ(Sample(m, "fluxserve_deadline_exceeded_total" + model), 1);
  EXPECT_EQ(Sample(m, "fluxserve_cancellations_total" + model), 0);
  EXPECT_EQ(Sample(m, "fluxserve_requests_total{model=\"test-model\",status=\"200\"}"), 1)
      << "the job's completion counts once, its 202s do not";
}

TEST(MetricsEndpointTest, ModelsEmbedRollingAverages) {
  Scenario s = RunRequests();
  ASSERT_NE(s.server, nullptr);
  auto response = s.server->Get("/v1/models/test-model");
  ASSERT_EQ(response.status, 200) << response.body;
  auto stats = response.Json()->getObject("stats");
  ASSERT_TRUE(stats && stats->has("prom")) << response.body;
  auto prom = stats->getObject("prom");
  ASSERT_TRUE(prom) << response.body;
  SCOPED_TRACE(response.body);
  EXPECT_EQ(prom->getValue<int>("window"), 10);
  EXPECT_EQ(prom->getValue<int>("requests"), 4) << "three successes and the 429";
  EXPECT_DOUBLE_EQ(prom->getValue<double>("error_rate"), 0.25);
  EXPECT_GE(prom->getValue<double>("avg_total_s"), 0.3);
  EXPECT_GE(prom->getValue<double>("avg_queue_s"), 0);
  EXPECT_GT(prom->getValue<double>("avg_step_s"), 0);
  EXPECT_TRUE(prom->isNull("avg_denoise_s")) << "the test pipeline reports no denoise phase";
  EXPECT_TRUE(prom->isNull("avg_vae_decode_s"));

  auto list = s.server->Get("/v1/models").Json()->getArray("data");
  bool saw_oom_model = false;
  for (size_t i = 0; i < list->size(); ++i) {
    auto model = list->getObject(unsigned(i));
    if (model->getValue<std::string>("id") != "oom-model") continue;
    saw_oom_model = true;
    auto oom_stats = model->getObject("stats")->getObject("prom");
    EXPECT_EQ(oom_stats->getValue<int>("requests"), 1);
    EXPECT_DOUBLE_EQ(oom_stats->getValue<double>("error_rate"), 1);
    EXPECT_TRUE(oom_stats->isNull("avg_total_s"));
  }
  EXPECT_TRUE(saw_oom_model);
}

TEST(MetricsEndpointTest, PathAndBucketsAreConfigurable) {
  auto server = TestServer::Start(Graph("{path: /prom/text, buckets: [0.5, 60]}"));
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }));
  EXPECT_EQ(server->Get("/metrics").status, 404);
  ASSERT_EQ(server->Post(kGenerations, R"({"prompt":"a","size":"16x16"})").status, 200);
  ASSERT_TRUE(WaitFor([&] {
    return Samples(server->Get("/prom/text").body)
               .count("fluxserve_request_duration_seconds_count{model=\"test-model\"}") > 0;
  }));
  auto m = Samples(server->Get("/prom/text").body);
  EXPECT_EQ(Sample(m, "fluxserve_request_duration_seconds_bucket{model=\"test-model\",le=\"0.5\"}"),
            1);
  EXPECT_EQ(Sample(m, "fluxserve_request_duration_seconds_bucket{model=\"test-model\",le=\"60\"}"),
            1);
  EXPECT_EQ(m.count("fluxserve_request_duration_seconds_bucket{model=\"test-model\",le=\"0.001\"}"),
            0u)
      << "the default buckets are replaced, not extended";
}

TEST(MetricsEndpointTest, BadConfigIsReportedPerKeyWithLocations) {
  const char* plugin_dir = std::getenv("FLX_PLUGIN_DIR");
  ASSERT_NE(plugin_dir, nullptr) << "FLX_PLUGIN_DIR is not set (run through ctest)";
  std::string yaml = "version: 1\nplugin_paths: [\"" + std::string(plugin_dir) + "\"]\n" +
                     Graph("{path: metrics, rolling_window: 0, buckets: [1, 0.5, soon, -2]}");
  Diagnostics diags;
  auto config = ParseGraphConfig(yaml, "metrics.yaml", Environment(), &diags);
  ASSERT_TRUE(config.ok()) << diags.ToString();
  auto graph = StageGraph::Build(*config, /*dry_run=*/true, &diags);
  ASSERT_FALSE(graph.ok());
  std::string text = diags.ToString();
  // Every message is located where its node starts: line of the prom stage, column of the
  // config map or of the bucket.
  auto location = [&](const std::string& node_text) {
    size_t at = yaml.find(node_text, yaml.find("id: prom"));
    size_t line_start = yaml.rfind('\n', at) + 1;
    return "metrics.yaml:" + std::to_string(1 + std::count(yaml.begin(), yaml.begin() + at, '\n')) +
           ":" + std::to_string(1 + at - line_start) + ": ";
  };
  for (const std::string& expected : {
           std::string("path must start with '/', got 'metrics'"),
           std::string("rolling_window must be between 1 and 100000, got 0"),
           std::string("buckets[1] (0.5) must be greater than the bucket before it (1)"),
           std::string("buckets[2] must be a number of seconds, got 'soon'"),
           std::string("buckets[3] must be a finite number of seconds > 0, got -2"),
           location("{path: metrics") + "stages[5].config: rolling_window",
           location("soon") + "stages[5].config.buckets[2]: ",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing '" << expected << "' in:\n"
                                                      << text;
  }
}

}  // namespace
}  // namespace flx::test
