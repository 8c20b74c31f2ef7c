// Admission through HTTP: serialisation, queue full (429 + Retry-After), queue timeout,
// clients that disconnect while queued, and graceful shutdown of requests in flight.
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "test_server.h"

namespace flx::test {
namespace {

// Live levels of the model's scheduler and pipeline, read through /v1/models/{id}.
struct Levels {
  int queue_depth = -1;
  int in_flight = -1;
  int calls = -1;
  int max_concurrent_seen = -1;
};

Levels ReadLevels(const TestServer& server) {
  Levels l;
  auto r = server.Get("/v1/models/test-model");
  if (r.status != 200) return l;
  auto json = r.Json();
  auto queue = json->getObject("queue");
  auto config = json->getObject("config");
  l.queue_depth = queue->getValue<int>("queue_depth");
  l.in_flight = queue->getValue<int>("in_flight");
  l.calls = config->getValue<int>("calls");
  l.max_concurrent_seen = config->getValue<int>("max_concurrent_seen");
  return l;
}

std::unique_ptr<TestServer> StartReady(const std::string& scheduler, const std::string& pipeline,
                                       double grace_s) {
  ServerOptions options;
  options.shutdown_grace_s = grace_s;
  auto server = TestServer::Start(QueuedTestPipeline(scheduler, pipeline), options);
  if (server) {
    EXPECT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }));
  }
  return server;
}

const char* kBody = R"({"prompt":"x","size":"16x16"})";

TEST(SchedulingTest, OneAtATimeUnderEightParallelRequests) {
  auto server = StartReady("{max_concurrent: 1, max_queue: 16}", "{delay_ms: 20}", 30);
  ASSERT_NE(server, nullptr);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&] {
      if (server->Post("/v1/images/generations", kBody).status == 200) ok++;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 8);
  Levels l = ReadLevels(*server);
  EXPECT_EQ(l.max_concurrent_seen, 1) << "two requests were inside the pipeline at once";
  EXPECT_EQ(l.calls, 8);
}

TEST(SchedulingTest, FullQueueIs429WithRetryAfter) {
  auto server = StartReady("{max_concurrent: 1, max_queue: 1}", "{delay_ms: 5000}", 0);
  ASSERT_NE(server, nullptr);
  std::thread running([&] { server->Post("/v1/images/generations", kBody); });
  ASSERT_TRUE(WaitFor([&] { return ReadLevels(*server).in_flight == 1; }));
  std::thread queued([&] { server->Post("/v1/images/generations", kBody); });
  ASSERT_TRUE(WaitFor([&] { return ReadLevels(*server).queue_depth == 1; }));
  auto refused = server->Post("/v1/images/generations", kBody);
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.ErrorField("code"), "queue_full");
  ASSERT_FALSE(refused.headers["retry-after"].empty());
  EXPECT_GE(std::stoi(refused.headers["retry-after"]), 1);
  server->Shutdown();  // grace 0: cancels both
  running.join();
  queued.join();
}

TEST(SchedulingTest, QueueTimeoutIs503) {
  auto server = StartReady("{max_concurrent: 1, max_queue: 4, queue_timeout_s: 0.2}",
                           "{delay_ms: 5000}", 0);
  ASSERT_NE(server, nullptr);
  std::thread running([&] { server->Post("/v1/images/generations", kBody); });
  ASSERT_TRUE(WaitFor([&] { return ReadLevels(*server).in_flight == 1; }));
  auto timed_out = server->Post("/v1/images/generations", kBody);
  EXPECT_EQ(timed_out.status, 503) << timed_out.body;
  EXPECT_EQ(timed_out.ErrorField("code"), "queue_timeout");
  EXPECT_FALSE(timed_out.headers["retry-after"].empty());
  server->Shutdown();
  running.join();
}

TEST(SchedulingTest, ClientThatDisconnectsWhileQueuedIsDropped) {
  auto server = StartReady("{max_concurrent: 1, max_queue: 4}", "{delay_ms: 1500}", 30);
  ASSERT_NE(server, nullptr);
  std::thread running([&] {
    EXPECT_EQ(server->Post("/v1/images/generations", kBody).status, 200);
  });
  ASSERT_TRUE(WaitFor([&] { return ReadLevels(*server).in_flight == 1; }));
  {
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", server->port()));
    std::string body = kBody;
    std::string request = "POST /v1/images/generations HTTP/1.1\r\nHost: test\r\n"
                          "Content-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
    socket.sendBytes(request.data(), int(request.size()));
    ASSERT_TRUE(WaitFor([&] { return ReadLevels(*server).queue_depth == 1; }));
    socket.close();
  }
  // Dropped from the queue while the first request is still running.
  EXPECT_TRUE(WaitFor([&] { return ReadLevels(*server).queue_depth == 0; }, 1.0));
  running.join();
  ASSERT_TRUE(WaitFor([&] { return ReadLevels(*server).in_flight == 0; }));
  EXPECT_EQ(ReadLevels(*server).calls, 1) << "the disconnected request must never run";
}

TEST(ShutdownTest, InFlightRequestFinishesWithinTheGracePeriod) {
  auto server = StartReady("{max_concurrent: 1}", "{delay_ms: 300}", 30);
  ASSERT_NE(server, nullptr);
  int status = 0;
  std::thread running([&] { status = server->Post("/v1/images/generations", kBody).status; });
  ASSERT_TRUE(WaitFor([&] { return ReadLevels(*server).in_flight == 1; }));
  server->Shutdown();
  running.join();
  EXPECT_EQ(status, 200);
}

TEST(ShutdownTest, RequestsStillRunningAfterTheGracePeriodFailClearly) {
  auto server = StartReady("{max_concurrent: 1}", "{delay_ms: 20000}", 0.1);
  ASSERT_NE(server, nullptr);
  HttpResponse response;
  std::thread running([&] { response = server->Post("/v1/images/generations", kBody); });
  ASSERT_TRUE(WaitFor([&] { return ReadLevels(*server).in_flight == 1; }));
  auto start = std::chrono::steady_clock::now();
  server->Shutdown();
  running.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(response.status, 503) << response.body;
  EXPECT_EQ(response.ErrorField("code"), "shutting_down");
}

}  // namespace
}  // namespace flx::test
