// Replicas of `fluxserve serve` sharing one job queue on a real redis-server (append-only file
// on), each a child process on the test pipeline, which appends every run's job id to a runs
// file of its replica (so the test counts runs across processes and knows who ran what):
//   - 200 jobs sent round-robin to 3 replicas all succeed, each run exactly once;
//   - a replica killed (SIGKILL) mid-job leaves the job to another, which completes it;
//   - accepted jobs survive a Redis restart and all complete;
//   - with Redis stopped, requests get 503 naming the queue and /readyz says why; both
//     recover by themselves when Redis is back;
//   - a job submitted to one replica is read, streamed and cancelled through another.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <zlib.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/child_server.h"
#include "support/multipart.h"
#include "support/redis_server.h"
#include "support/temp_dir.h"

namespace flx::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

bool WaitFor(const std::function<bool()>& done, double seconds) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

Poco::JSON::Object::Ptr Json(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

struct ReplicaSettings {
  int delay_ms = 20;
  double claim_after_s = 3;
  int max_queued = 500;
  bool second_model = false;  // also `test2` on a pipeline of its own
};

class SharedQueueReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Env("FLX_PLUGIN_DIR").empty() || Env("FLX_BIN_DIR").empty()) {
      GTEST_SKIP() << "FLX_PLUGIN_DIR and FLX_BIN_DIR are set by CTest";
    }
    std::string why;
    redis_ = RedisServer::Start(dir_.file(""), &why);
    ASSERT_NE(redis_, nullptr) << why;
  }

  std::string WriteConfig(const ReplicaSettings& s) {
    const std::string path = dir_.file("config.yaml");
    std::ofstream out(path);
    out << "version: 1\n"
        << "server: { listen: \"127.0.0.1:0\", output_dir: ./out, shutdown_grace_s: 2 }\n"
        << "plugin_paths: [\"" << Env("FLX_PLUGIN_DIR") << "\"]\n"
        << "stages:\n"
        << "  - { id: fifo, kind: scheduler, library: flx_scheduler, type: fifo,\n"
        << "      config: { max_concurrent: 1, max_queue: 8 } }\n"
        << "  - { id: pipe, kind: pipeline, library: flx_test_pipeline, type: test,\n"
        << "      config: { delay_ms: " << s.delay_ms << ", runs_file: \"${RUNS_FILE}\" } }\n"
        << "  - { id: shared, kind: queue, library: flx_queue_redis, type: redis,\n"
        << "      config: { url: \"" << redis_->url()
        << "\", prefix: t, claim_after_s: " << s.claim_after_s << ", max_queued: " << s.max_queued
        << ", timeout_s: 2 } }\n"
        << (s.second_model ? "  - { id: pipe2, kind: pipeline, library: flx_test_pipeline, "
                             "type: test, config: { runs_file: \"${RUNS_FILE}\" } }\n"
                           : "")
        << "models:\n"
        << "  test: [fifo, pipe]\n"
        << (s.second_model ? "  test2: [pipe2]\n" : "")
        << "job_queue: shared\n";
    return path;
  }

  // Starts replica `name` (its runs file is runs-<name>) and waits until it is ready.
  ChildServer* StartReplica(const std::string& config, const std::string& name) {
    const std::string work = dir_.file("replica-" + name);
    std::filesystem::create_directories(work);
    ::setenv("RUNS_FILE", RunsFile(name).c_str(), 1);
    ::setenv("FLUX_REPLICA_NAME", ("replica-" + name).c_str(), 1);
    std::string why;
    auto replica =
        ChildServer::Start(Env("FLX_BIN_DIR") + "/fluxserve", config, work, std::nullopt, 30, &why);
    EXPECT_NE(replica, nullptr) << why;
    if (!replica) return nullptr;
    replicas_.push_back(std::move(replica));
    return replicas_.back().get();
  }

  std::string RunsFile(const std::string& name) const { return dir_.file("runs-" + name); }

  // The job ids every replica ran, with how often.
  std::map<std::string, int> Runs(const std::vector<std::string>& names) const {
    std::map<std::string, int> runs;
    for (const std::string& name : names) {
      for (const std::string& id : Lines(RunsFile(name))) ++runs[id];
    }
    return runs;
  }

  // Submits a background job; returns its id ("" on failure, with the response logged).
  static std::string Submit(ChildServer& replica, const std::string& prompt) {
    const ChildResponse r =
        replica.Post("/v1/images/generations",
                     R"({"prompt":")" + prompt + R"(","size":"32x32","background":true})");
    EXPECT_EQ(r.status, 202) << r.body << r.error;
    if (r.status != 202) return "";
    return Json(r.body)->getValue<std::string>("id");
  }

  static std::string Status(ChildServer& replica, const std::string& id) {
    const ChildResponse r = replica.Get("/v1/images/generations/" + id);
    if (r.status != 200) return "http " + std::to_string(r.status);
    return Json(r.body)->getValue<std::string>("status");
  }

  TempDir dir_;
  std::unique_ptr<RedisServer> redis_;
  std::vector<std::unique_ptr<ChildServer>> replicas_;
};

TEST_F(SharedQueueReplicasTest, TwoHundredJobsRoundRobinOnThreeReplicasRunExactlyOnce) {
  const std::string config = WriteConfig({/*delay_ms=*/5, /*claim_after_s=*/30});
  std::vector<ChildServer*> replicas;
  for (const char* name : {"a", "b", "c"}) replicas.push_back(StartReplica(config, name));
  for (ChildServer* r : replicas) ASSERT_NE(r, nullptr);
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    ids.push_back(Submit(*replicas[i % 3], "job " + std::to_string(i)));
    ASSERT_FALSE(ids.back().empty());
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    ChildServer& reader = *replicas[(i + 1) % 3];  // read through another replica
    EXPECT_TRUE(WaitFor([&] { return Status(reader, ids[i]) == "succeeded"; }, 120))
        << ids[i] << " is " << Status(reader, ids[i]);
  }
  const std::map<std::string, int> runs = Runs({"a", "b", "c"});
  EXPECT_EQ(runs.size(), ids.size());
  for (const std::string& id : ids) EXPECT_EQ(runs.count(id) ? runs.at(id) : 0, 1) << id;
  // Every replica took a share.
  for (const char* name : {"a", "b", "c"}) EXPECT_FALSE(Lines(RunsFile(name)).empty()) << name;
}

// SIGHUP with a model added: the replica's workers move to the new graph and take the new
// model's jobs too; a job running on the old graph meanwhile finishes.
TEST_F(SharedQueueReplicasTest, AReloadAddsAModelWhoseJobsTheReplicaThenRuns) {
  ReplicaSettings settings{/*delay_ms=*/800, /*claim_after_s=*/30};
  ChildServer* replica = StartReplica(WriteConfig(settings), "a");
  ASSERT_NE(replica, nullptr);
  const std::string before = Submit(*replica, "before the reload");
  ASSERT_TRUE(WaitFor([&] { return Status(*replica, before) == "running"; }, 10));
  settings.second_model = true;
  WriteConfig(settings);
  ::kill(replica->pid(), SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return replica->Get("/v1/models/test2").status == 200; }, 20))
      << replica->Log();
  const ChildResponse added = replica->Post(
      "/v1/images/generations",
      R"({"prompt":"after","size":"32x32","model":"test2","background":true})");
  ASSERT_EQ(added.status, 202) << added.body << added.error;
  const std::string after = Json(added.body)->getValue<std::string>("id");
  EXPECT_TRUE(WaitFor([&] { return Status(*replica, after) == "succeeded"; }, 20))
      << Status(*replica, after) << "\n" << replica->Log();
  EXPECT_TRUE(WaitFor([&] { return Status(*replica, before) == "succeeded"; }, 20))
      << Status(*replica, before);
  const std::map<std::string, int> runs = Runs({"a"});
  EXPECT_EQ(runs.count(before) ? runs.at(before) : 0, 1);
  EXPECT_EQ(runs.count(after) ? runs.at(after) : 0, 1);
}

TEST_F(SharedQueueReplicasTest, AReplicaKilledMidJobLeavesItsJobToAnother) {
  const std::string config = WriteConfig({/*delay_ms=*/3000, /*claim_after_s=*/3});
  ChildServer* a = StartReplica(config, "a");
  ASSERT_NE(a, nullptr);
  const std::string id = Submit(*a, "survivor");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitFor([&] { return !Lines(RunsFile("a")).empty(); }, 20)) << a->Log();
  a->Kill(SIGKILL);  // mid-job: it runs for 3 s
  ChildServer* b = StartReplica(config, "b");
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(WaitFor([&] { return Status(*b, id) == "succeeded"; }, 30)) << b->Log();
  EXPECT_EQ(Lines(RunsFile("b")), std::vector<std::string>{id});
  const ChildResponse job = b->Get("/v1/images/generations/" + id);
  EXPECT_NE(job.body.find("\"b64_json\""), std::string::npos) << job.body;
}

TEST_F(SharedQueueReplicasTest, AcceptedJobsSurviveARedisRestart) {
  const std::string config = WriteConfig({/*delay_ms=*/300, /*claim_after_s=*/3});
  ChildServer* a = StartReplica(config, "a");
  ASSERT_NE(a, nullptr);
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(Submit(*a, "kept " + std::to_string(i)));
  std::string why;
  ASSERT_TRUE(redis_->Restart(&why)) << why;  // SIGTERM: the append-only file is flushed
  for (const std::string& id : ids) {
    EXPECT_TRUE(WaitFor([&] { return Status(*a, id) == "succeeded"; }, 60))
        << id << " is " << Status(*a, id) << "\n"
        << a->Log();
  }
  const std::map<std::string, int> runs = Runs({"a"});
  for (const std::string& id : ids) EXPECT_GE(runs.count(id), 1u) << id;
}

TEST_F(SharedQueueReplicasTest, WithRedisStoppedRequestsGet503AndTheReplicaRecovers) {
  const std::string config = WriteConfig({});
  ChildServer* a = StartReplica(config, "a");
  ASSERT_NE(a, nullptr);
  redis_->Stop();
  const ChildResponse refused =
      a->Post("/v1/images/generations", R"({"prompt":"while down","size":"32x32"})");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("queue_unavailable"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find(redis_->url()), std::string::npos) << refused.body;
  EXPECT_EQ(refused.headers.count("Retry-After"), 1u);
  const ChildResponse not_ready = a->Get("/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_NE(not_ready.body.find(redis_->url()), std::string::npos) << not_ready.body;
  std::string why;
  ASSERT_TRUE(redis_->Restart(&why)) << why;
  EXPECT_TRUE(WaitFor([&] { return a->Get("/readyz").status == 200; }, 10));
  const ChildResponse served =
      a->Post("/v1/images/generations", R"({"prompt":"back","size":"32x32"})");
  EXPECT_EQ(served.status, 200) << served.body;
  EXPECT_NE(served.body.find("\"b64_json\""), std::string::npos);
}

TEST_F(SharedQueueReplicasTest, AJobIsReadStreamedAndCancelledThroughAnotherReplica) {
  const std::string config = WriteConfig({/*delay_ms=*/4000, /*claim_after_s=*/30});
  ChildServer* a = StartReplica(config, "a");
  ChildServer* b = StartReplica(config, "b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const std::string id = Submit(*a, "to cancel");
  ASSERT_TRUE(WaitFor([&] { return Status(*b, id) == "running"; }, 20));
  const ChildResponse listed = b->Get("/v1/images/generations?status=running");
  EXPECT_NE(listed.body.find(id), std::string::npos) << listed.body;
  const ChildResponse cancelled = b->Post("/v1/images/generations/" + id + "/cancel", "{}");
  EXPECT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_TRUE(WaitFor([&] { return Status(*a, id) == "cancelled"; }, 5));
  // The events of the ended job replay through either replica, the error last.
  const ChildResponse events = a->Get("/v1/images/generations/" + id + "/events");
  EXPECT_EQ(events.status, 200);
  EXPECT_NE(events.body.find("event: error"), std::string::npos) << events.body;
  const ChildResponse again = b->Post("/v1/images/generations/" + id + "/cancel", "{}");
  EXPECT_EQ(again.status, 200) << again.body;  // cancelling a cancelled job is no error
  EXPECT_EQ(b->Get("/v1/images/generations/imgjob_unknown").status, 404);
}

TEST_F(SharedQueueReplicasTest, QueuePositionsAndTheQueueLimitHoldAcrossReplicas) {
  const std::string config = WriteConfig({/*delay_ms=*/5000, /*claim_after_s=*/30, 2});
  ChildServer* a = StartReplica(config, "a");
  ChildServer* b = StartReplica(config, "b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  // Two replicas, one worker each: two jobs run, the next two wait, the fifth is refused.
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) ids.push_back(Submit(*a, "runs " + std::to_string(i)));
  for (const std::string& id : ids) {
    ASSERT_TRUE(WaitFor([&] { return Status(*b, id) == "running"; }, 20)) << id;
  }
  for (int i = 0; i < 2; ++i) ids.push_back(Submit(*b, "waits " + std::to_string(i)));
  for (size_t i = 2; i < 4; ++i) {
    const auto job = Json(a->Get("/v1/images/generations/" + ids[i]).body);
    EXPECT_EQ(job->getValue<std::string>("status"), "queued");
    EXPECT_EQ(job->getValue<int>("queue_position"), static_cast<int>(i) - 1) << ids[i];
  }
  const ChildResponse refused =
      a->Post("/v1/images/generations", R"({"prompt":"one too many","background":true})");
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_NE(refused.body.find("queue_full"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("max_queued = 2"), std::string::npos) << refused.body;
  EXPECT_EQ(refused.headers.count("Retry-After"), 1u);
  // A queued job cancelled through the other replica ends as soon as a worker reaches it.
  EXPECT_EQ(b->Post("/v1/images/generations/" + ids[3] + "/cancel", "{}").status, 200);
  EXPECT_TRUE(WaitFor([&] { return Status(*a, ids[3]) == "cancelled"; }, 20));
  EXPECT_EQ(Runs({"a", "b"}).count(ids[3]), 0u) << "a cancelled job never runs";
}

TEST_F(SharedQueueReplicasTest, ADeadlineThatPassesInTheQueueIs504AndTheJobNeverRuns) {
  const std::string config = WriteConfig({/*delay_ms=*/3000, /*claim_after_s=*/30});
  ChildServer* a = StartReplica(config, "a");
  ASSERT_NE(a, nullptr);
  const std::string busy = Submit(*a, "keeps the only worker busy");
  ASSERT_TRUE(WaitFor([&] { return Status(*a, busy) == "running"; }, 20));
  const auto started = Clock::now();
  const ChildResponse late =
      a->Post("/v1/images/generations", R"({"prompt":"in a hurry","size":"32x32","timeout_s":1})");
  const double waited = std::chrono::duration<double>(Clock::now() - started).count();
  EXPECT_EQ(late.status, 504) << late.body;
  EXPECT_NE(late.body.find("deadline_exceeded"), std::string::npos) << late.body;
  EXPECT_LT(waited, 2.5) << "answered at its deadline, not when a worker came";
  const std::string id = late.headers.count("X-Job-Id") ? late.headers.at("X-Job-Id") : "";
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(WaitFor([&] { return Status(*a, id) == "cancelled"; }, 20)) << Status(*a, id);
  EXPECT_EQ(Runs({"a"}).count(id), 0u);
}

// Sends a synchronous generation and hangs up after `seconds` without reading the answer.
void PostAndHangUp(const ChildServer& replica, const std::string& body, double seconds) {
  Poco::Net::StreamSocket socket;
  socket.connect(Poco::Net::SocketAddress("127.0.0.1", replica.port()));
  const std::string request =
      "POST /v1/images/generations HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  socket.sendBytes(request.data(), static_cast<int>(request.size()));
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  socket.close();
}

TEST_F(SharedQueueReplicasTest, ASynchronousClientThatHangsUpCancelsItsJob) {
  const std::string config = WriteConfig({/*delay_ms=*/20000, /*claim_after_s=*/30});
  ChildServer* a = StartReplica(config, "a");
  ChildServer* b = StartReplica(config, "b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  PostAndHangUp(*a, R"({"prompt":"abandoned","size":"32x32"})", 1.5);
  // The job ran on either replica and stops at its next step, not after its 20 s.
  std::string listing;
  EXPECT_TRUE(WaitFor(
      [&] {
        listing = b->Get("/v1/images/generations?status=cancelled").body;
        return listing.find("imgjob_") != std::string::npos;
      },
      10))
      << listing;
}

// A 16x16 RGBA PNG: opaque, or transparent on its left half (OpenAI's "edit here").
std::string TinyPng(bool left_half_transparent) {
  std::string raw;
  for (int y = 0; y < 16; ++y) {
    raw += '\0';  // filter: none
    for (int x = 0; x < 16; ++x) {
      raw += static_cast<char>(x * 16);
      raw += static_cast<char>(y * 16);
      raw += static_cast<char>(90);
      raw += static_cast<char>(left_half_transparent && x < 8 ? 0 : 255);
    }
  }
  uLongf size = compressBound(raw.size());
  std::string deflated(size, '\0');
  compress(reinterpret_cast<Bytef*>(deflated.data()), &size,
           reinterpret_cast<const Bytef*>(raw.data()), raw.size());
  deflated.resize(size);
  auto chunk = [](const std::string& type, const std::string& data) {
    std::string out;
    for (int shift = 24; shift >= 0; shift -= 8)
      out += static_cast<char>((data.size() >> shift) & 0xff);
    out += type + data;
    const uLong crc = crc32(crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>(type.data()), 4);
    const uLong full = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), data.size());
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((full >> shift) & 0xff);
    return out;
  };
  const std::string header("\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0", 13);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", header) + chunk("IDAT", deflated) +
         chunk("IEND", "");
}

TEST_F(SharedQueueReplicasTest, AnEditTravelsThroughTheQueueWithItsImages) {
  const std::string config = WriteConfig({/*delay_ms=*/20, /*claim_after_s=*/30});
  ChildServer* a = StartReplica(config, "a");
  ChildServer* b = StartReplica(config, "b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  MultipartBody body;
  body.File("image", "in.png", "image/png", TinyPng(false))
      .File("mask", "mask.png", "image/png", TinyPng(true))
      .Field("prompt", "a hat")
      .Field("strength", "0.5");
  const ChildResponse edited =
      a->Post("/v1/images/edits", body.Body(), {{"Content-Type", body.ContentType()}});
  ASSERT_EQ(edited.status, 200) << edited.body;
  const auto parameters = Json(edited.body)->getObject("parameters");
  EXPECT_EQ(parameters->getValue<std::string>("edit"), "inpaint");
  EXPECT_EQ(parameters->getValue<double>("strength"), 0.5);
  EXPECT_EQ(parameters->getValue<int>("width"), 16) << "the image's own size";
}

TEST_F(SharedQueueReplicasTest, AnIdempotencyKeyRetriedOnAnotherReplicaJoinsItsJob) {
  const std::string config = WriteConfig({/*delay_ms=*/500, /*claim_after_s=*/30});
  ChildServer* a = StartReplica(config, "a");
  ChildServer* b = StartReplica(config, "b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const std::string body = R"({"prompt":"once","size":"32x32","seed":7,"background":true})";
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "order-17"}};
  const ChildResponse first = a->Post("/v1/images/generations", body, key);
  ASSERT_EQ(first.status, 202) << first.body;
  const ChildResponse retry = b->Post("/v1/images/generations", body, key);
  ASSERT_EQ(retry.status, 202) << retry.body;
  EXPECT_EQ(retry.headers.at("X-Job-Id"), first.headers.at("X-Job-Id"));
  EXPECT_EQ(retry.headers.at("Idempotent-Replayed"), "true");
  EXPECT_EQ(first.headers.count("Idempotent-Replayed"), 0u);
  const ChildResponse other =
      b->Post("/v1/images/generations", R"({"prompt":"else","background":true})", key);
  EXPECT_EQ(other.status, 409) << other.body;
  EXPECT_NE(other.body.find("idempotency_key_reused"), std::string::npos);
  // A synchronous retry through either replica answers with the job's images.
  const ChildResponse sync =
      a->Post("/v1/images/generations", R"({"prompt":"once","size":"32x32","seed":7})",
              {{"Idempotency-Key", "order-18"}});
  EXPECT_EQ(sync.status, 200) << sync.body;
  const ChildResponse sync_retry =
      b->Post("/v1/images/generations", R"({"prompt":"once","size":"32x32","seed":7})",
              {{"Idempotency-Key", "order-18"}});
  EXPECT_EQ(sync_retry.status, 200) << sync_retry.body;
  EXPECT_EQ(sync_retry.headers.at("Idempotent-Replayed"), "true");
  EXPECT_EQ(sync_retry.headers.at("X-Job-Id"), sync.headers.at("X-Job-Id"));
  EXPECT_EQ(
      Json(sync_retry.body)->getArray("data")->getObject(0)->getValue<std::string>("b64_json"),
      Json(sync.body)->getArray("data")->getObject(0)->getValue<std::string>("b64_json"));
  const std::map<std::string, int> runs = Runs({"a", "b"});
  EXPECT_EQ(runs.at(first.headers.at("X-Job-Id")), 1);
  EXPECT_EQ(runs.at(sync.headers.at("X-Job-Id")), 1);
}

}  // namespace
}  // namespace flx::test
