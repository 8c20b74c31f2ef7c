// Background jobs over HTTP: 202 with a job, polling, exact queue positions, cancellation of
// queued and running jobs, the listing, expiry, and the refusals a submission can meet.
#include <Poco/JSON/Array.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test_server.h"

namespace flx::test {
namespace {

constexpr const char* kGenerations = "/v1/images/generations";

std::unique_ptr<TestServer> StartReady(const std::string& scheduler, const std::string& pipeline,
                                       ServerOptions options = {}) {
  auto server = TestServer::Start(QueuedTestPipeline(scheduler, pipeline), options);
  if (server) {
    EXPECT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }));
  }
  return server;
}

std::string BackgroundBody(int steps = 2) {
  return R"({"prompt":"x","size":"16x16","background":true,"steps":)" + std::to_string(steps) + "}";
}

Poco::JSON::Object::Ptr GetJob(const TestServer& server, const std::string& id) {
  HttpResponse r = server.Get(std::string(kGenerations) + "/" + id);
  EXPECT_EQ(r.status, 200) << r.body;
  return r.status == 200 ? r.Json() : nullptr;
}

std::string Status(const Poco::JSON::Object::Ptr& job) {
  return job ? job->getValue<std::string>("status") : "";
}

std::optional<int> Position(const Poco::JSON::Object::Ptr& job) {
  if (!job || job->isNull("queue_position")) return std::nullopt;
  return job->getValue<int>("queue_position");
}

int Step(const Poco::JSON::Object::Ptr& job) {
  return job->getObject("progress")->getValue<int>("step");
}

// Polls the job until it has ended; its last state.
Poco::JSON::Object::Ptr WaitEnded(const TestServer& server, const std::string& id,
                                  double seconds = 30) {
  Poco::JSON::Object::Ptr job;
  WaitFor(
      [&] {
        job = GetJob(server, id);
        const std::string status = Status(job);
        return status == "succeeded" || status == "failed" || status == "cancelled";
      },
      seconds);
  return job;
}

TEST(JobsTest, ABackgroundJobIsAcceptedThenCarriesTheSynchronousResponse) {
  auto server = StartReady("{max_concurrent: 1, max_queue: 8}", "{delay_ms: 50}");
  ASSERT_NE(server, nullptr);
  HttpResponse r = server->Post(kGenerations, BackgroundBody());
  ASSERT_EQ(r.status, 202) << r.body;
  Poco::JSON::Object::Ptr job = r.Json();
  const std::string id = job->getValue<std::string>("id");
  EXPECT_EQ(id.rfind("imgjob_", 0), 0u) << id;
  EXPECT_EQ(job->getValue<std::string>("object"), "image.generation.job");
  EXPECT_EQ(r.headers["location"], std::string(kGenerations) + "/" + id);
  EXPECT_TRUE(Status(job) == "queued" || Status(job) == "running") << r.body;
  EXPECT_FALSE(job->isNull("created_at"));
  EXPECT_TRUE(job->isNull("finished_at"));

  job = WaitEnded(*server, id);
  ASSERT_EQ(Status(job), "succeeded");
  EXPECT_EQ(Step(job), 2);
  EXPECT_EQ(job->getObject("progress")->getValue<int>("steps"), 2);
  EXPECT_FALSE(job->isNull("started_at"));
  EXPECT_FALSE(job->isNull("finished_at"));
  EXPECT_TRUE(job->isNull("queue_position"));
  ASSERT_TRUE(job->has("data"));
  EXPECT_FALSE(job->getArray("data")->getObject(0)->getValue<std::string>("b64_json").empty());
  EXPECT_EQ(job->getValue<std::string>("model"), "test-model");
  EXPECT_EQ(Param(job, "steps"), "2");
  EXPECT_TRUE(job->getObject("timings")->has("total_s"));
}

TEST(JobsTest, TwentyJobsReportExactQueuePositionsThatOnlyShrink) {
  auto server = StartReady("{max_concurrent: 1, max_queue: 32}", "{delay_ms: 400}");
  ASSERT_NE(server, nullptr);
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    HttpResponse r = server->Post(kGenerations, BackgroundBody());
    ASSERT_EQ(r.status, 202) << r.body;
    Poco::JSON::Object::Ptr job = r.Json();
    ids.push_back(job->getValue<std::string>("id"));
    // The first runs at once; each later one waits behind all before it but the running one.
    if (i == 0) {
      EXPECT_FALSE(Position(job)) << r.body;
    } else {
      EXPECT_EQ(Position(job), std::optional<int>(i)) << "job " << i << ": " << r.body;
    }
  }
  std::map<std::string, int> last;
  for (size_t i = 1; i < ids.size(); ++i) last[ids[i]] = int(i);
  bool all_ended = false;
  for (int poll = 0; poll < 2000 && !all_ended; ++poll) {
    all_ended = true;
    for (const std::string& id : ids) {
      Poco::JSON::Object::Ptr job = GetJob(*server, id);
      ASSERT_TRUE(job);
      if (Status(job) != "succeeded") all_ended = false;
      if (std::optional<int> position = Position(job)) {
        ASSERT_LE(*position, last[id]) << id << " moved back in the queue";
        last[id] = *position;
      } else {
        last[id] = 0;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(all_ended);
  for (const std::string& id : ids) EXPECT_EQ(Status(GetJob(*server, id)), "succeeded") << id;
}

TEST(JobsTest, ARunningJobCancelledAtStepKStopsByStepKPlusOne) {
  auto server = StartReady("{max_concurrent: 1, max_queue: 8}", "{delay_ms: 3000}");
  ASSERT_NE(server, nullptr);
  HttpResponse r = server->Post(kGenerations, BackgroundBody(30));
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string id = r.Json()->getValue<std::string>("id");
  ASSERT_TRUE(WaitFor([&] { return Step(GetJob(*server, id)) >= 3; }));
  HttpResponse cancel = server->Post(std::string(kGenerations) + "/" + id + "/cancel", "");
  ASSERT_EQ(cancel.status, 200) << cancel.body;
  const int k = Step(cancel.Json());
  EXPECT_TRUE(cancel.Json()->getValue<bool>("cancel_requested"));
  Poco::JSON::Object::Ptr job = WaitEnded(*server, id);
  ASSERT_EQ(Status(job), "cancelled") << job;
  EXPECT_LE(Step(job), k + 1) << "cancelled at step " << k;
  EXPECT_LT(Step(job), 30);
  ASSERT_TRUE(job->has("error"));
  EXPECT_EQ(job->getObject("error")->getValue<std::string>("code"), "cancelled");
  // Cancelling again is harmless; the slot is free for the next request.
  EXPECT_EQ(server->Post(std::string(kGenerations) + "/" + id + "/cancel", "").status, 200);
  EXPECT_EQ(server->Post(kGenerations, R"({"prompt":"x","size":"16x16","steps":1})").status, 200);
}

TEST(JobsTest, AQueuedJobCancelledLeavesTheQueueAndTheOneAheadRunsOn) {
  auto server = StartReady("{max_concurrent: 1, max_queue: 8}", "{delay_ms: 1500}");
  ASSERT_NE(server, nullptr);
  const std::string first =
      server->Post(kGenerations, BackgroundBody()).Json()->getValue<std::string>("id");
  HttpResponse second = server->Post(kGenerations, BackgroundBody());
  ASSERT_EQ(second.status, 202);
  const std::string id = second.Json()->getValue<std::string>("id");
  EXPECT_EQ(Position(second.Json()), std::optional<int>(1));
  ASSERT_EQ(server->Post(std::string(kGenerations) + "/" + id + "/cancel", "").status, 200);
  Poco::JSON::Object::Ptr job = WaitEnded(*server, id, 5);
  EXPECT_EQ(Status(job), "cancelled");
  EXPECT_TRUE(job->isNull("started_at"));
  EXPECT_EQ(Status(WaitEnded(*server, first)), "succeeded");
  HttpResponse again = server->Post(std::string(kGenerations) + "/" + first + "/cancel", "");
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_EQ(again.ErrorField("code"), "job_ended");
}

TEST(JobsTest, TheListingIsNewestFirstFiltersByStatusAndChecksItsQuery) {
  auto server = StartReady("{max_concurrent: 1, max_queue: 8}", "{delay_ms: 10}");
  ASSERT_NE(server, nullptr);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(server->Post(kGenerations, BackgroundBody()).Json()->getValue<std::string>("id"));
  }
  for (const std::string& id : ids) WaitEnded(*server, id);
  HttpResponse list = server->Get(std::string(kGenerations) + "?status=succeeded&limit=2");
  ASSERT_EQ(list.status, 200) << list.body;
  Poco::JSON::Array::Ptr data = list.Json()->getArray("data");
  ASSERT_EQ(data->size(), 2u);
  EXPECT_EQ(data->getObject(0)->getValue<std::string>("id"), ids[2]);
  EXPECT_EQ(data->getObject(1)->getValue<std::string>("id"), ids[1]);
  EXPECT_FALSE(data->getObject(0)->has("data")) << "listings leave the images out";
  EXPECT_TRUE(list.Json()->getValue<bool>("has_more"));
  EXPECT_EQ(
      server->Get(std::string(kGenerations) + "?status=running").Json()->getArray("data")->size(),
      0u);
  EXPECT_EQ(server->Get(std::string(kGenerations) + "?limit=0").ErrorField("param"), "limit");
  EXPECT_EQ(server->Get(std::string(kGenerations) + "?status=done").ErrorField("param"), "status");
  HttpResponse wrong = server->Send("DELETE", kGenerations, "", {});
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers["allow"], "GET, POST");
}

TEST(JobsTest, UnknownAndExpiredJobsAreNotFoundAndSaySo) {
  ServerOptions options;
  // Long enough for a poll to see the job succeed on a loaded machine (TSan beside a build).
  options.jobs.ttl_s = 1.5;
  auto server = StartReady("{max_concurrent: 1, max_queue: 8}", "{delay_ms: 10}", options);
  ASSERT_NE(server, nullptr);
  HttpResponse unknown = server->Get(std::string(kGenerations) + "/imgjob_nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.ErrorField("code"), "job_not_found");
  const std::string id =
      server->Post(kGenerations, BackgroundBody()).Json()->getValue<std::string>("id");
  EXPECT_EQ(Status(WaitEnded(*server, id)), "succeeded");
  std::this_thread::sleep_for(std::chrono::milliseconds(1700));
  HttpResponse expired = server->Get(std::string(kGenerations) + "/" + id);
  EXPECT_EQ(expired.status, 404);
  EXPECT_EQ(expired.ErrorField("code"), "job_expired");
  EXPECT_NE(expired.ErrorField("message").find("server.job_ttl_s"), std::string::npos);
}

TEST(JobsTest, SubmissionsBeyondTheLimitsAreRefusedAndNotKept) {
  ServerOptions options;
  options.jobs.max_active = 1;
  auto server = StartReady("{max_concurrent: 1, max_queue: 0}", "{delay_ms: 1000}", options);
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(server->Post(kGenerations, BackgroundBody()).status, 202);
  HttpResponse over = server->Post(kGenerations, BackgroundBody());
  EXPECT_EQ(over.status, 429) << over.body;
  EXPECT_EQ(over.ErrorField("code"), "too_many_jobs");
  // A synchronous request meets the full scheduler queue, as before.
  EXPECT_EQ(server->Post(kGenerations, R"({"prompt":"x","size":"16x16"})").status, 429);
  EXPECT_EQ(server->Get(kGenerations).Json()->getArray("data")->size(), 1u);
}

TEST(JobsTest, ARefusalFromTheSchedulerIsTheSubmissionsAnswer) {
  auto server = StartReady("{max_concurrent: 1, max_queue: 0}", "{delay_ms: 1000}");
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(server->Post(kGenerations, BackgroundBody()).status, 202);
  HttpResponse full = server->Post(kGenerations, BackgroundBody());
  EXPECT_EQ(full.status, 429) << full.body;
  EXPECT_EQ(full.ErrorField("code"), "queue_full");
  EXPECT_FALSE(full.headers["retry-after"].empty());
  EXPECT_EQ(server->Get(kGenerations).Json()->getArray("data")->size(), 1u) << "not kept";
}

TEST(JobsTest, BadDeliveryFieldsNameTheirParam) {
  auto server = StartReady("{max_concurrent: 1, max_queue: 8}", "{delay_ms: 10}");
  ASSERT_NE(server, nullptr);
  HttpResponse r = server->Post(kGenerations, R"({"prompt":"x","stream":"yes"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.ErrorField("param"), "stream");
  EXPECT_EQ(server->Post(kGenerations, R"({"prompt":"x","partial_images":4})").ErrorField("param"),
            "partial_images");
  EXPECT_EQ(server->Post(kGenerations, R"({"prompt":"x","background":"yes"})").ErrorField("param"),
            "background");
}

TEST(JobsTest, ASecondJobOfTheSameShapeHasAnEstimate) {
  auto server = StartReady("{max_concurrent: 1, max_queue: 8}", "{delay_ms: 400}");
  ASSERT_NE(server, nullptr);
  const std::string first =
      server->Post(kGenerations, BackgroundBody(4)).Json()->getValue<std::string>("id");
  EXPECT_EQ(Status(WaitEnded(*server, first)), "succeeded");
  const std::string running =
      server->Post(kGenerations, BackgroundBody(4)).Json()->getValue<std::string>("id");
  HttpResponse queued = server->Post(kGenerations, BackgroundBody(4));
  ASSERT_EQ(queued.status, 202);
  ASSERT_FALSE(queued.Json()->isNull("eta_seconds")) << queued.body;
  const double eta = queued.Json()->getValue<double>("eta_seconds");
  // Two runs of about 0.4 s: the one ahead and its own.
  EXPECT_GT(eta, 0.4);
  EXPECT_LT(eta, 5.0);
  ASSERT_TRUE(WaitFor([&] { return Step(GetJob(*server, running)) >= 1; }));
  Poco::JSON::Object::Ptr job = GetJob(*server, running);
  if (Status(job) == "running") {
    ASSERT_FALSE(job->isNull("eta_seconds"));
    EXPECT_LT(job->getValue<double>("eta_seconds"), 2.0);
  }
}

}  // namespace
}  // namespace flx::test

namespace flx::test {
namespace {

int PipelineCalls(const TestServer& server) {
  return server.Get("/v1/models/test-model").Json()->getObject("config")->getValue<int>("calls");
}

TEST(IdempotencyTest, ARetryWithTheSameKeyJoinsTheJobAndTheModelRunsOnce) {
  auto server = StartReady("{max_concurrent: 1, max_queue: 8}", "{delay_ms: 600}");
  ASSERT_NE(server, nullptr);
  const std::string body = R"({"prompt":"x","size":"16x16","steps":2})";
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "retry-1"}};
  HttpResponse first;
  std::thread client([&] { first = server->Post(kGenerations, body, key); });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  HttpResponse retry = server->Post(kGenerations, body, key);  // while the first runs
  client.join();
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(retry.headers["idempotent-replayed"], "true");
  EXPECT_EQ(first.headers["x-job-id"], retry.headers["x-job-id"]);
  const auto image = [](const HttpResponse& r) {
    return r.Json()->getArray("data")->getObject(0)->getValue<std::string>("b64_json");
  };
  EXPECT_EQ(image(first), image(retry));
  HttpResponse later = server->Post(kGenerations, body, key);  // after it ended
  EXPECT_EQ(later.status, 200);
  EXPECT_EQ(image(later), image(first));
  EXPECT_EQ(PipelineCalls(*server), 1) << "the model ran once for three requests";
  // Another key is another request.
  EXPECT_EQ(server->Post(kGenerations, body, {{"Idempotency-Key", "retry-2"}}).status, 200);
  EXPECT_EQ(PipelineCalls(*server), 2);
}

TEST(IdempotencyTest, TheSameKeyWithAnotherBodyIsAConflict) {
  auto server = StartReady("{max_concurrent: 1, max_queue: 8}", "{delay_ms: 10}");
  ASSERT_NE(server, nullptr);
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "k"}};
  ASSERT_EQ(server->Post(kGenerations, R"({"prompt":"a","size":"16x16"})", key).status, 200);
  HttpResponse other = server->Post(kGenerations, R"({"prompt":"b","size":"16x16"})", key);
  EXPECT_EQ(other.status, 409) << other.body;
  EXPECT_EQ(other.ErrorField("code"), "idempotency_key_reused");
  HttpResponse bad = server->Post(kGenerations, R"({"prompt":"a"})", {{"Idempotency-Key", ""}});
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(bad.ErrorField("param"), "Idempotency-Key");
}

TEST(IdempotencyTest, ABackgroundRetryGetsTheSameJob) {
  auto server = StartReady("{max_concurrent: 1, max_queue: 8}", "{delay_ms: 300}");
  ASSERT_NE(server, nullptr);
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "bg"}};
  HttpResponse first = server->Post(kGenerations, BackgroundBody(), key);
  HttpResponse retry = server->Post(kGenerations, BackgroundBody(), key);
  ASSERT_EQ(first.status, 202) << first.body;
  ASSERT_EQ(retry.status, 202) << retry.body;
  EXPECT_EQ(first.Json()->getValue<std::string>("id"), retry.Json()->getValue<std::string>("id"));
  EXPECT_EQ(retry.headers["idempotent-replayed"], "true");
  EXPECT_EQ(Status(WaitEnded(*server, first.Json()->getValue<std::string>("id"))), "succeeded");
  EXPECT_EQ(PipelineCalls(*server), 1);
}

}  // namespace
}  // namespace flx::test
