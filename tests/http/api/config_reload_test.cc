// A configuration reload at run time (what SIGHUP does in `fluxserve serve`, driven here through
// TestServer::Reload): unchanged stages are kept with their loaded models and counters, changed
// ones are created anew, removed models go, added ones serve; requests and background jobs in
// flight finish on the graph they started with; a reload whose new pipeline fails to load
// changes nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "test_server.h"

namespace flx::test {
namespace {

constexpr const char* kGenerations = "/v1/images/generations";

std::string Body(const std::string& model) {
  return R"({"prompt":"x","size":"16x16","model":")" + model + "\"}";
}

// A pipeline stage `id` on the test pipeline with `config`.
std::string Pipe(const std::string& id, const std::string& config) {
  return "  - {id: " + id + ", kind: pipeline, library: flx_test_pipeline, type: test_threadsafe," +
         " config: " + config + "}\n";
}

std::string WithMetrics(const std::string& stages, const std::string& models) {
  return "stages:\n" + stages +
         "  - {id: prom, kind: metrics, library: flx_metrics, type: prometheus}\n" + "models:\n" +
         models + "observers: [prom]\n";
}

int64_t PipelineCounter(const TestServer& server, const std::string& model,
                        const std::string& name) {
  const HttpResponse r = server.Get("/v1/models/" + model);
  EXPECT_EQ(r.status, 200) << r.body;
  if (r.status != 200) return -1;
  return r.Json()->getObject("config")->getValue<int64_t>(name);
}

std::string Joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

TEST(ConfigReloadTest, KeepsUnchangedStagesReplacesChangedOnesAndAddsAndRemovesModels) {
  auto server = TestServer::Start(WithMetrics(
      Pipe("pa", "{}") + Pipe("pb", "{}") + Pipe("pc", "{}"), "  a: [pa]\n  b: [pb]\n  c: [pc]\n"));
  ASSERT_NE(server, nullptr);
  server->graph().WaitPrepared();
  for (const char* model : {"a", "a", "b", "c"}) {
    ASSERT_EQ(server->Post(kGenerations, Body(model)).status, 200) << model;
  }
  ASSERT_EQ(PipelineCounter(*server, "a", "calls"), 2);

  ReloadSummary summary;
  const Status reloaded =
      server->Reload(WithMetrics(Pipe("pa", "{}") + Pipe("pb", "{delay_ms: 1}") + Pipe("pd", "{}"),
                                 "  a: [pa]\n  b: [pb]\n  d: [pd]\n"),
                     &summary);
  ASSERT_TRUE(reloaded.ok()) << reloaded.ToString();
  EXPECT_EQ(Joined(summary.added_models), "d");
  EXPECT_EQ(Joined(summary.removed_models), "c");
  EXPECT_EQ(Joined(summary.changed_models), "b");
  EXPECT_EQ(Joined(summary.unchanged_models), "a");
  EXPECT_EQ(Joined(summary.kept_stages), "pa,prom");
  EXPECT_EQ(Joined(summary.created_stages), "pb,pd");
  EXPECT_EQ(Joined(summary.dropped_stages), "pb,pc");

  // The kept pipeline keeps its loaded model and its count; the changed one starts afresh.
  EXPECT_EQ(PipelineCounter(*server, "a", "calls"), 2);
  EXPECT_EQ(PipelineCounter(*server, "a", "prepares"), 1) << "a kept stage does not load again";
  EXPECT_EQ(PipelineCounter(*server, "b", "calls"), 0);
  EXPECT_EQ(PipelineCounter(*server, "b", "prepares"), 1);
  EXPECT_EQ(server->Get("/v1/models/d").Json()->getValue<std::string>("state"), "ready")
      << "an eager model serves as soon as the reload is done";
  EXPECT_EQ(server->Post(kGenerations, Body("d")).status, 200);
  const HttpResponse gone = server->Post(kGenerations, Body("c"));
  EXPECT_EQ(gone.status, 404) << gone.body;
  EXPECT_EQ(gone.ErrorField("code"), "model_not_found");
  EXPECT_EQ(server->Get("/readyz").status, 200);

  // The kept metrics stage counts on, and the dropped pipeline reads not ready.
  const std::string metrics = server->Get("/metrics").body;
  EXPECT_NE(metrics.find("fluxserve_model_ready{stage=\"pc\"} 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("fluxserve_model_ready{stage=\"pd\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("model=\"a\""), std::string::npos) << "counts from before the reload";
}

TEST(ConfigReloadTest, RequestsAndJobsInFlightFinishOnTheGraphTheyStartedWith) {
  const std::string before = WithMetrics(Pipe("pa", "{}") + Pipe("slow", "{delay_ms: 600}"),
                                         "  a: [pa]\n  slow: [slow]\n");
  auto server = TestServer::Start(before);
  ASSERT_NE(server, nullptr);
  server->graph().WaitPrepared();
  HttpResponse in_flight;
  std::thread sync([&] { in_flight = server->Post(kGenerations, Body("slow")); });
  const HttpResponse job = server->Post(
      kGenerations, R"({"prompt":"x","size":"16x16","model":"slow","background":true})");
  ASSERT_EQ(job.status, 202) << job.body;
  const std::string job_id = job.Json()->getValue<std::string>("id");
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // both are running now

  ASSERT_TRUE(server->Reload(WithMetrics(Pipe("pa", "{}"), "  a: [pa]\n")).ok());
  EXPECT_EQ(server->Post(kGenerations, Body("slow")).status, 404) << "new requests see the reload";
  sync.join();
  EXPECT_EQ(in_flight.status, 200) << in_flight.body;
  ASSERT_TRUE(WaitFor(
      [&] {
        return server->Get(std::string(kGenerations) + "/" + job_id).body.find("\"succeeded\"") !=
               std::string::npos;
      },
      10))
      << server->Get(std::string(kGenerations) + "/" + job_id).body;
}

// Clients keep two models busy while the configuration is reloaded ten times, changing one
// model's pipeline each time: every request is answered 200.
TEST(ConfigReloadTest, AReloadCycleUnderLoadLosesNoRequest) {
  auto config = [](int round) {
    return WithMetrics(Pipe("pa", "{delay_ms: 5}") +
                           Pipe("pb", "{delay_ms: " + std::to_string(5 + round % 2) + "}"),
                       "  a: [pa]\n  b: [pb]\n");
  };
  auto server = TestServer::Start(config(0));
  ASSERT_NE(server, nullptr);
  server->graph().WaitPrepared();
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::vector<std::string> failures;
  std::mutex failures_mutex;
  std::vector<std::thread> clients;
  for (const char* model : {"a", "b", "a", "b"}) {
    clients.emplace_back([&, model] {
      while (!stop.load()) {
        const HttpResponse r = server->Post(kGenerations, Body(model));
        ++answered;
        if (r.status != 200) {
          std::lock_guard<std::mutex> lock(failures_mutex);
          failures.push_back(std::string(model) + ": " + std::to_string(r.status) + " " + r.body);
        }
      }
    });
  }
  for (int round = 1; round <= 10; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    const Status reloaded = server->Reload(config(round));
    EXPECT_TRUE(reloaded.ok()) << round << ": " << reloaded.ToString();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  stop.store(true);
  for (std::thread& t : clients) t.join();
  EXPECT_GT(answered.load(), 40);
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();
  EXPECT_EQ(PipelineCounter(*server, "a", "prepares"), 1) << "the unchanged model never reloaded";
}

TEST(ConfigReloadTest, AReloadWhoseNewPipelineFailsToLoadChangesNothing) {
  auto server = TestServer::Start(WithMetrics(Pipe("pa", "{}"), "  a: [pa]\n"));
  ASSERT_NE(server, nullptr);
  server->graph().WaitPrepared();
  const Status reloaded =
      server->Reload(WithMetrics(Pipe("pa", "{}") + Pipe("broken", "{prepare_fail: true}"),
                                 "  a: [pa]\n  broken: [broken]\n"));
  EXPECT_EQ(reloaded.code(), FLX_UNAVAILABLE) << reloaded.ToString();
  EXPECT_NE(reloaded.message().find("stage 'broken' (model 'broken') did not load"),
            std::string::npos)
      << reloaded.ToString();
  EXPECT_EQ(server->Get("/v1/models/broken").status, 404) << "the failed reload was not applied";
  EXPECT_EQ(server->Post(kGenerations, Body("a")).status, 200);
  EXPECT_EQ(server->Get("/readyz").status, 200);

  // A lazy model's pipeline is not loaded by a reload, so it cannot fail it.
  ASSERT_TRUE(server
                  ->Reload(WithMetrics(Pipe("pa", "{}") + Pipe("later", "{}"),
                                       "  a: [pa]\n  later: {chain: [later], load: lazy}\n"))
                  .ok());
  EXPECT_EQ(server->Get("/v1/models/later").Json()->getValue<std::string>("state"), "unloaded");
  EXPECT_EQ(server->Post(kGenerations, Body("later")).status, 200);
}

}  // namespace
}  // namespace flx::test
