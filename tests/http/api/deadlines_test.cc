// Request deadlines: timeout_s per request and server.request_timeout_s; past it the
// generation stops at the pipeline's next step and the answer is 504 deadline_exceeded,
// while the scheduler's own queue limit stays 503 queue_timeout.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "test_server.h"

namespace flx::test {
namespace {

constexpr const char* kGenerations = "/v1/images/generations";

std::unique_ptr<TestServer> StartReady(const std::string& pipeline, ServerOptions options = {}) {
  auto server =
      TestServer::Start(QueuedTestPipeline("{max_concurrent: 1, max_queue: 8}", pipeline), options);
  if (server) {
    EXPECT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }));
  }
  return server;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(DeadlinesTest, ARequestPastItsTimeoutStopsAtTheNextStepWith504) {
  auto server = StartReady("{delay_ms: 4000}");
  ASSERT_NE(server, nullptr);
  const auto start = std::chrono::steady_clock::now();
  HttpResponse r =
      server->Post(kGenerations, R"({"prompt":"x","size":"16x16","steps":40,"timeout_s":0.3})");
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_EQ(r.ErrorField("code"), "deadline_exceeded");
  EXPECT_NE(r.ErrorField("message").find("timeout_s"), std::string::npos) << r.body;
  EXPECT_LT(SecondsSince(start), 2.0) << "stopped within a step of 0.1 s, not after 4 s";
  // The slot is free again.
  EXPECT_EQ(server->Post(kGenerations, R"({"prompt":"x","size":"16x16","steps":40,"timeout_s":9})")
                .status,
            200);
}

TEST(DeadlinesTest, TheServerDefaultAppliesWhenTheRequestSetsNone) {
  ServerOptions options;
  options.request_timeout_s = 0.3;
  auto server = StartReady("{delay_ms: 3000}", options);
  ASSERT_NE(server, nullptr);
  HttpResponse r = server->Post(kGenerations, R"({"prompt":"x","size":"16x16","steps":30})");
  EXPECT_EQ(r.status, 504) << r.body;
  // A request may ask for longer than the server's default.
  HttpResponse longer =
      server->Post(kGenerations, R"({"prompt":"x","size":"16x16","steps":30,"timeout_s":10})");
  EXPECT_EQ(longer.status, 200) << longer.body;
}

TEST(DeadlinesTest, ABackgroundJobPastItsTimeoutFailsWithTheSameError) {
  auto server = StartReady("{delay_ms: 3000}");
  ASSERT_NE(server, nullptr);
  HttpResponse r =
      server->Post(kGenerations,
                   R"({"prompt":"x","size":"16x16","steps":30,"timeout_s":0.3,"background":true})");
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string path = std::string(kGenerations) + "/" + r.Json()->getValue<std::string>("id");
  Poco::JSON::Object::Ptr job;
  ASSERT_TRUE(WaitFor([&] {
    job = server->Get(path).Json();
    return job->getValue<std::string>("status") == "failed";
  }));
  EXPECT_EQ(job->getObject("error")->getValue<std::string>("code"), "deadline_exceeded");
}

TEST(DeadlinesTest, BadTimeoutsAreRefusedNamingTheField) {
  auto server = StartReady("{delay_ms: 1}");
  ASSERT_NE(server, nullptr);
  for (const char* value : {"0", "-1", "86401", "\"5\"", "true"}) {
    HttpResponse r =
        server->Post(kGenerations, std::string(R"({"prompt":"x","timeout_s":)") + value + "}");
    EXPECT_EQ(r.status, 400) << value;
    EXPECT_EQ(r.ErrorField("param"), "timeout_s") << value;
  }
}

}  // namespace
}  // namespace flx::test
