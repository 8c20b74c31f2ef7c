// Models at run time through the HTTP API with the test pipeline: `load: lazy` and
// `load: manual` models, the admin routes POST /v1/models/{id}/load and /unload and their
// keys, what /v1/models and /readyz say, and an unload/load cycle under load that loses no
// request.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "test_server.h"

namespace flx::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kBody = R"({"prompt":"x","size":"16x16"})";
constexpr const char* kAdminKey = "admin-secret";

// One model `m` on the test pipeline (`pipeline_config`), loaded as `load` says.
std::string Graph(const std::string& load, const std::string& pipeline_config,
                  const std::string& type = "test") {
  return "stages:\n"
         "  - {id: queue, kind: scheduler, library: flx_scheduler, type: fifo,\n"
         "     config: {max_concurrent: 2, max_queue: 64}}\n"
         "  - {id: pipe, kind: pipeline, library: flx_test_pipeline, type: " +
         type + ", config: " + pipeline_config +
         "}\n"
         "models:\n"
         "  m: {chain: [queue, pipe], load: " +
         load + "}\n";
}

ServerOptions WithAdminKey() {
  ServerOptions options;
  options.admin_keys = {kAdminKey};
  return options;
}

std::map<std::string, std::string> Admin(const std::string& key = kAdminKey) {
  return {{"Authorization", "Bearer " + key}};
}

std::string State(const TestServer& server) {
  return server.Get("/v1/models/m").Json()->getValue<std::string>("state");
}

int64_t Counter(const TestServer& server, const std::string& name) {
  return server.Get("/v1/models/m").Json()->getObject("config")->getValue<int64_t>(name);
}

TEST(ModelAdminTest, AdminRoutesAre403WithoutAdminKeysAnd401WithAWrongOne) {
  auto off = TestServer::Start(Graph("eager", "{}"));
  ASSERT_NE(off, nullptr);
  const HttpResponse refused = off->Post("/v1/models/m/unload", "", Admin());
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(refused.ErrorField("code"), "admin_disabled");

  ServerOptions options = WithAdminKey();
  options.api_keys = {"api-key"};
  auto on = TestServer::Start(Graph("eager", "{}"), options);
  ASSERT_NE(on, nullptr);
  EXPECT_EQ(on->Post("/v1/models/m/unload", "").status, 401);
  const HttpResponse api_key = on->Post("/v1/models/m/unload", "", Admin("api-key"));
  EXPECT_EQ(api_key.status, 401) << "an API key is not an admin key";
  EXPECT_EQ(api_key.ErrorField("code"), "invalid_admin_key");
  EXPECT_EQ(on->Post("/v1/models/nope/load", "", Admin()).status, 404);
  EXPECT_EQ(on->Get("/v1/models/m/load", Admin()).status, 405);
  EXPECT_EQ(on->Post("/v1/models/m/unload", "", Admin()).status, 200)
      << "the admin key alone opens the admin routes, without the API key";
}

TEST(ModelAdminTest, AManualModelServesOnlyOnceAnAdminLoadsIt) {
  auto server = TestServer::Start(Graph("manual", "{prepare_delay_ms: 200}"), WithAdminKey());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->Get("/readyz").status, 200) << "manual models do not hold readiness back";
  const auto model = server->Get("/v1/models/m").Json();
  EXPECT_EQ(model->getValue<std::string>("load"), "manual");
  EXPECT_EQ(model->getValue<std::string>("state"), "unloaded");
  const HttpResponse before = server->Post("/v1/images/generations", kBody);
  EXPECT_EQ(before.status, 503) << before.body;
  EXPECT_NE(before.ErrorField("message").find("POST /v1/models/m/load"), std::string::npos)
      << before.body;

  const HttpResponse load = server->Post("/v1/models/m/load", "", Admin());
  EXPECT_EQ(load.status, 202) << load.body;
  EXPECT_EQ(load.Json()->getValue<std::string>("state"), "loading");
  ASSERT_TRUE(WaitFor([&] { return State(*server) == "ready"; }, 10));
  EXPECT_EQ(server->Post("/v1/models/m/load", "", Admin()).status, 200) << "already loaded";
  EXPECT_EQ(server->Post("/v1/images/generations", kBody).status, 200);

  const HttpResponse unload = server->Post("/v1/models/m/unload", "", Admin());
  EXPECT_EQ(unload.status, 200) << unload.body;
  EXPECT_EQ(unload.Json()->getValue<std::string>("state"), "unloaded");
  EXPECT_EQ(State(*server), "unloaded");
  EXPECT_EQ(server->Post("/v1/images/generations", kBody).status, 503);
  EXPECT_EQ(Counter(*server, "unloads"), 1);
  EXPECT_EQ(Counter(*server, "prepares"), 1);
}

TEST(ModelAdminTest, ALazyModelLoadsAtItsFirstRequestWhichWaitsForIt) {
  auto server = TestServer::Start(Graph("lazy", "{prepare_delay_ms: 300}"), WithAdminKey());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->Get("/readyz").status, 200);
  EXPECT_EQ(State(*server), "unloaded");
  EXPECT_EQ(Counter(*server, "prepares"), 0) << "nothing loads before it is asked for";
  const Clock::time_point start = Clock::now();
  const HttpResponse first = server->Post("/v1/images/generations", kBody);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_GE(seconds, 0.3) << "the request waited for the load";
  EXPECT_EQ(State(*server), "ready");
  EXPECT_EQ(server->Post("/v1/images/generations", kBody).status, 200);
  EXPECT_EQ(Counter(*server, "prepares"), 1);
}

TEST(ModelAdminTest, AJobWaitingForItsLazyModelSaysSo) {
  auto server = TestServer::Start(Graph("lazy", "{prepare_delay_ms: 1500}"), WithAdminKey());
  ASSERT_NE(server, nullptr);
  const HttpResponse submitted = server->Post(
      "/v1/images/generations", R"({"prompt":"x","size":"16x16","background":true})");
  ASSERT_EQ(submitted.status, 202) << submitted.body;
  const std::string path =
      "/v1/images/generations/" + submitted.Json()->getValue<std::string>("id");
  Poco::JSON::Object::Ptr job;
  ASSERT_TRUE(WaitFor(
      [&] {
        job = server->Get(path).Json();
        return !job->isNull("waiting_for") &&
               job->getValue<std::string>("waiting_for") == "model_load";
      },
      1.2))
      << server->Get(path).body;
  EXPECT_EQ(job->getValue<std::string>("status"), "queued");
  EXPECT_TRUE(job->isNull("queue_position"));
  ASSERT_TRUE(WaitFor(
      [&] { return server->Get(path).Json()->getValue<std::string>("status") == "succeeded"; },
      10));
  EXPECT_TRUE(server->Get(path).Json()->isNull("waiting_for"));
}

TEST(ModelAdminTest, AFailedLoadSaysWhy) {
  auto server = TestServer::Start(Graph("manual", "{prepare_fail: true}"), WithAdminKey());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->Post("/v1/models/m/load", "", Admin()).status, 202);
  ASSERT_TRUE(WaitFor([&] { return State(*server) == "failed"; }, 10));
  const auto model = server->Get("/v1/models/m").Json();
  EXPECT_NE(model->getValue<std::string>("state_message").find("prepare_fail"), std::string::npos);
  EXPECT_EQ(server->Post("/v1/images/generations", kBody).status, 503);
}

// Two lazy models on their own pipelines, one eager, and room for two: asking for the
// unloaded lazy model unloads the least recently used idle lazy one, never the eager one;
// with both lazy models busy there is no room and the request says why.
TEST(ModelAdminTest, MaxLoadedUnloadsTheLeastRecentlyUsedIdleLazyModel) {
  auto server = TestServer::Start(
      "server: {max_loaded: 2}\n"
      "stages:\n"
      "  - {id: e, kind: pipeline, library: flx_test_pipeline, type: test_threadsafe, config: {}}\n"
      "  - {id: a, kind: pipeline, library: flx_test_pipeline, type: test_threadsafe,\n"
      "     config: {delay_ms: 300}}\n"
      "  - {id: b, kind: pipeline, library: flx_test_pipeline, type: test_threadsafe, config: {}}\n"
      "models:\n"
      "  eager: [e]\n"
      "  lazy-a: {chain: [a], load: lazy}\n"
      "  lazy-b: {chain: [b], load: lazy}\n",
      WithAdminKey());
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }));
  auto state = [&](const std::string& id) {
    return server->Get("/v1/models/" + id).Json()->getValue<std::string>("state");
  };
  auto ask = [&](const std::string& id) {
    return server->Post("/v1/images/generations",
                        R"({"prompt":"x","size":"16x16","model":")" + id + "\"}");
  };
  EXPECT_EQ(ask("lazy-a").status, 200);
  EXPECT_EQ(state("lazy-a"), "ready");
  EXPECT_EQ(ask("lazy-b").status, 200);
  EXPECT_EQ(state("lazy-a"), "unloaded") << "the least recently used lazy model made room";
  EXPECT_EQ(state("eager"), "ready") << "eager models are never unloaded to make room";
  EXPECT_EQ(ask("lazy-a").status, 200);
  EXPECT_EQ(state("lazy-b"), "unloaded");

  // lazy-a is loaded and busy for 300 ms: lazy-b needs room, and neither the eager model
  // nor lazy-a in use gives any.
  std::thread busy([&] { EXPECT_EQ(ask("lazy-a").status, 200); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const HttpResponse no_room = ask("lazy-b");
  EXPECT_EQ(no_room.status, 503) << no_room.body;
  EXPECT_NE(no_room.ErrorField("message").find("server.max_loaded is 2"), std::string::npos)
      << no_room.body;
  busy.join();
  EXPECT_EQ(ask("lazy-b").status, 200) << "lazy-a is idle again, so it makes room";
  EXPECT_EQ(server->Post("/v1/models/eager/unload", "", Admin()).status, 200);
  EXPECT_EQ(server->Post("/v1/models/lazy-a/load", "", Admin()).status, 202)
      << "an admin load counts against the bound too: the eager model's slot is free now";
}

// Clients keep a lazy model busy while an admin unloads and reloads it again and again:
// every request is answered 200 (a request that arrives while it is unloaded loads it
// again), and the pipeline never runs unloaded (the test pipeline fails such a call).
TEST(ModelAdminTest, UnloadAndLoadUnderLoadLoseNoRequest) {
  auto server = TestServer::Start(
      Graph("lazy", "{delay_ms: 20, prepare_delay_ms: 30}", "test_threadsafe"), WithAdminKey());
  ASSERT_NE(server, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&] {
      while (!stop.load()) {
        const HttpResponse r = server->Post("/v1/images/generations", kBody);
        (r.status == 200 ? ok : failed)++;
        if (r.status != 200) ADD_FAILURE() << r.status << " " << r.body;
      }
    });
  }
  int cycles = 0;
  for (; cycles < 6; ++cycles) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const HttpResponse unload = server->Post("/v1/models/m/unload", "", Admin());
    EXPECT_EQ(unload.status, 200) << unload.body;
    if (cycles % 2 == 0) {
      EXPECT_EQ(server->Post("/v1/models/m/load", "", Admin()).status / 100, 2);
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop = true;
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(ok.load(), 10);
  EXPECT_EQ(Counter(*server, "unloads"), cycles);
  EXPECT_GE(Counter(*server, "prepares"), cycles);
}

}  // namespace
}  // namespace flx::test
