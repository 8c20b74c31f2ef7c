// Server-sent events: `stream: true` answers with OpenAI's image streaming events plus
// fluxserve's progress events; GET .../{id}/events streams a background job; a client that
// leaves a stream cancels its generation.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_server.h"

namespace flx::test {
namespace {

constexpr const char* kGenerations = "/v1/images/generations";

struct Sse {
  std::string name;
  Poco::JSON::Object::Ptr data;
};

// The events of a text/event-stream body.
std::vector<Sse> ParseEvents(const std::string& body) {
  std::vector<Sse> events;
  std::istringstream in(body);
  std::string line;
  Sse current;
  while (std::getline(in, line)) {
    if (line.rfind("event: ", 0) == 0) current.name = line.substr(7);
    if (line.rfind("data: ", 0) == 0) {
      current.data = Poco::JSON::Parser().parse(line.substr(6)).extract<Poco::JSON::Object::Ptr>();
    }
    if (line.empty() && current.data) {
      events.push_back(current);
      current = Sse{};
    }
  }
  return events;
}

std::vector<Sse> Named(const std::vector<Sse>& events, const std::string& name) {
  std::vector<Sse> out;
  for (const Sse& e : events) {
    if (e.name == name) out.push_back(e);
  }
  return out;
}

std::unique_ptr<TestServer> StartReady(const std::string& pipeline) {
  auto server =
      TestServer::Start(QueuedTestPipeline("{max_concurrent: 1, max_queue: 8}", pipeline));
  if (server) {
    EXPECT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }));
  }
  return server;
}

TEST(StreamingTest, ProgressAndPartialImagesComeBeforeTheCompletedImages) {
  auto server = StartReady("{delay_ms: 200}");
  ASSERT_NE(server, nullptr);
  HttpResponse r = server->Post(
      kGenerations,
      R"({"prompt":"x","size":"16x16","steps":4,"n":2,"stream":true,"partial_images":2})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "text/event-stream");
  EXPECT_FALSE(r.headers["x-job-id"].empty());
  const std::vector<Sse> events = ParseEvents(r.body);
  const std::vector<Sse> progress = Named(events, "image_generation.progress");
  ASSERT_EQ(progress.size(), 4u) << r.body;
  for (size_t i = 0; i < progress.size(); ++i) {
    EXPECT_EQ(progress[i].data->getValue<int>("step"), int(i) + 1);
    EXPECT_EQ(progress[i].data->getValue<int>("steps"), 4);
    EXPECT_EQ(progress[i].data->getValue<std::string>("type"), "image_generation.progress");
  }
  const std::vector<Sse> partial = Named(events, "image_generation.partial_image");
  ASSERT_EQ(partial.size(), 2u) << r.body;
  EXPECT_EQ(partial[0].data->getValue<int>("partial_image_index"), 0);
  EXPECT_EQ(partial[1].data->getValue<int>("partial_image_index"), 1);
  EXPECT_EQ(partial[0].data->getValue<int>("step"), 2);
  EXPECT_EQ(partial[1].data->getValue<int>("step"), 3);
  EXPECT_EQ(partial[0].data->getValue<std::string>("b64_json").rfind("iVBORw0KGgo", 0), 0u)
      << "a PNG";
  const std::vector<Sse> completed = Named(events, "image_generation.completed");
  ASSERT_EQ(completed.size(), 2u) << r.body;
  EXPECT_EQ(events.back().name, "image_generation.completed");
  EXPECT_EQ(completed[0].data->getValue<std::string>("size"), "16x16");
  EXPECT_EQ(completed[0].data->getValue<std::string>("output_format"), "png");
  EXPECT_NE(completed[0].data->getValue<std::string>("b64_json"),
            completed[1].data->getValue<std::string>("b64_json"));
  EXPECT_TRUE(completed[0].data->has("usage"));
}

TEST(StreamingTest, AFailureEndsTheStreamWithAnErrorEvent) {
  auto server = StartReady("{delay_ms: 3000}");
  ASSERT_NE(server, nullptr);
  HttpResponse r = server->Post(
      kGenerations, R"({"prompt":"x","size":"16x16","steps":30,"stream":true,"timeout_s":0.3})");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::vector<Sse> events = ParseEvents(r.body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().name, "error");
  EXPECT_EQ(events.back().data->getObject("error")->getValue<std::string>("code"),
            "deadline_exceeded");
}

TEST(StreamingTest, ABackgroundJobsEventsReplayFromTheStart) {
  auto server = StartReady("{delay_ms: 300}");
  ASSERT_NE(server, nullptr);
  HttpResponse job = server->Post(
      kGenerations,
      R"({"prompt":"x","size":"16x16","steps":3,"background":true,"partial_images":1,"response_format":"url"})");
  ASSERT_EQ(job.status, 202) << job.body;
  const std::string id = job.Json()->getValue<std::string>("id");
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // joins while it runs
  HttpResponse r = server->Get(std::string(kGenerations) + "/" + id + "/events");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::vector<Sse> events = ParseEvents(r.body);
  EXPECT_EQ(Named(events, "image_generation.progress").size(), 3u) << r.body;
  EXPECT_EQ(Named(events, "image_generation.partial_image").size(), 1u) << r.body;
  const std::vector<Sse> completed = Named(events, "image_generation.completed");
  ASSERT_EQ(completed.size(), 1u) << r.body;
  EXPECT_FALSE(completed[0].data->getValue<std::string>("b64_json").empty())
      << "read back from the stored file";
  EXPECT_TRUE(completed[0].data->has("url"));
  // After the end the same route replays everything at once.
  HttpResponse again = server->Get(std::string(kGenerations) + "/" + id + "/events");
  EXPECT_EQ(ParseEvents(again.body).size(), events.size());
  EXPECT_EQ(server->Get(std::string(kGenerations) + "/nope/events").status, 404);
}

TEST(StreamingTest, ARetriedStreamWithAnIdempotencyKeyReplaysTheSameJob) {
  auto server = StartReady("{delay_ms: 100}");
  ASSERT_NE(server, nullptr);
  const std::string body = R"({"prompt":"x","size":"16x16","steps":2,"stream":true})";
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "stream-1"}};
  HttpResponse first = server->Post(kGenerations, body, key);
  HttpResponse retry = server->Post(kGenerations, body, key);
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(retry.headers["idempotent-replayed"], "true");
  EXPECT_EQ(first.headers["x-job-id"], retry.headers["x-job-id"]);
  const auto image = [](const HttpResponse& r) {
    const std::vector<Sse> completed = Named(ParseEvents(r.body), "image_generation.completed");
    return completed.empty() ? std::string() : completed[0].data->getValue<std::string>("b64_json");
  };
  EXPECT_FALSE(image(first).empty());
  EXPECT_EQ(image(first), image(retry));
  EXPECT_EQ(
      server->Get("/v1/models/test-model").Json()->getObject("config")->getValue<int>("calls"), 1)
      << "the model ran once";
}

TEST(StreamingTest, AClientThatLeavesAStreamCancelsItsGeneration) {
  auto server = StartReady("{delay_ms: 6000}");
  ASSERT_NE(server, nullptr);
  {
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", server->port()));
    const std::string body = R"({"prompt":"x","size":"16x16","steps":60,"stream":true})";
    const std::string request =
        "POST /v1/images/generations HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    socket.sendBytes(request.data(), int(request.size()));
    char buffer[4096];
    ASSERT_GT(socket.receiveBytes(buffer, sizeof(buffer)), 0);  // headers and a first event
    socket.close();
  }
  Poco::JSON::Object::Ptr job;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto list = server->Get(kGenerations).Json()->getArray("data");
        if (list->size() != 1) return false;
        job = list->getObject(0);
        return job->getValue<std::string>("status") == "cancelled";
      },
      5))
      << (job ? job->getValue<std::string>("status") : "no job");
  EXPECT_LT(job->getObject("progress")->getValue<int>("step"), 60);
}

}  // namespace
}  // namespace flx::test
