// Loads flx_queue_redis.so through the ABI with the fake host, against a real redis-server:
// the `redis` queue stage's contract (flx_queue_iface) call by call — records, positions,
// claims, progress, cancel, events and their end marker, listings, a full queue, dead
// letters, an unreachable Redis, a password from the environment, and config errors.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fake_host.h"
#include "support/redis_server.h"
#include "support/temp_dir.h"

namespace flx::testing {
namespace {

using test::RedisServer;
using test::TempDir;

struct Fields {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::vector<flx_kv> kv() const {
    std::vector<flx_kv> out;
    for (const auto& [k, v] : pairs) out.push_back({k.c_str(), v.c_str()});
    return out;
  }
};

class RedisQueuePluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = PluginPath("flx_queue_redis");
    ASSERT_FALSE(path.empty()) << "FLX_PLUGIN_DIR is not set (CTest sets it)";
    std::string why;
    plugin_ = LoadedPlugin::Open(path, &why);
    ASSERT_TRUE(plugin_) << path << ": " << why;
    factory_ = plugin_->Find(FLX_KIND_QUEUE, "redis");
    ASSERT_TRUE(factory_) << "flx_queue_redis offers no queue type redis";
    server_ = RedisServer::Start(dir_.path(), &why, password_);
    ASSERT_NE(server_, nullptr) << why;
  }

  std::unique_ptr<Instance> Create(std::map<std::string, std::string> config, ErrorPtr* error) {
    config_.scalars = std::move(config);
    if (!config_.scalars.count("url")) config_.scalars["url"] = server_->url();
    return Instance::Create(*factory_, host_, config_, error);
  }

  std::unique_ptr<Instance> CreateOk(std::map<std::string, std::string> config = {}) {
    ErrorPtr error;
    auto queue = Create(std::move(config), &error);
    EXPECT_TRUE(queue) << Describe(error.get());
    return queue;
  }

  static const flx_queue_iface& Q(const Instance& queue) { return queue.iface<flx_queue_iface>(); }

  static ErrorPtr Submit(const Instance& queue, const std::string& id, const std::string& model) {
    const Fields record{{{"status", "queued"}, {"created_at", "1700000000.5"}}};
    const std::vector<flx_kv> kv = record.kv();
    return ErrorPtr(Q(queue).submit(queue.self(), id.c_str(), model.c_str(), kv.data(), kv.size(),
                                    ("payload of " + id).c_str()));
  }

  static std::string Call(const std::function<flx_error*(flx_buffer*)>& call, ErrorPtr* error) {
    flx_buffer out;
    error->reset(call(&out));
    return out.data;
  }

  static std::string Get(const Instance& q, const std::string& id, ErrorPtr* error) {
    return Call([&](flx_buffer* out) { return Q(q).get(q.self(), id.c_str(), out); }, error);
  }

  static std::string Claim(const Instance& q, const std::string& model) {
    ErrorPtr error;
    const std::string claimed = Call(
        [&](flx_buffer* out) { return Q(q).claim(q.self(), model.c_str(), 100, out); }, &error);
    EXPECT_FALSE(error) << Describe(error.get());
    return claimed;
  }

  static std::string Events(const Instance& q, const std::string& id) {
    ErrorPtr error;
    const std::string events =
        Call([&](flx_buffer* out) { return Q(q).read_events(q.self(), id.c_str(), "", 10, out); },
             &error);
    EXPECT_FALSE(error) << Describe(error.get());
    return events;
  }

  static ErrorPtr Finish(const Instance& q, const std::string& id, const Fields& fields) {
    const std::vector<flx_kv> kv = fields.kv();
    return ErrorPtr(Q(q).finish(q.self(), id.c_str(), kv.data(), kv.size()));
  }

  std::string password_;
  TempDir dir_;
  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<LoadedPlugin> plugin_;
  const flx_factory* factory_ = nullptr;
  flx_host host_;
  flx_config config_;
};

TEST_F(RedisQueuePluginTest, AJobGoesFromSubmitThroughClaimAndProgressToItsEnd) {
  auto queue = CreateOk();
  ASSERT_TRUE(queue);
  ASSERT_FALSE(Submit(*queue, "j1", "m"));
  ASSERT_FALSE(Submit(*queue, "j2", "m"));
  ErrorPtr error;
  EXPECT_NE(Get(*queue, "j2", &error).find(R"("queue_position":"1")"), std::string::npos);
  EXPECT_NE(Get(*queue, "j1", &error).find(R"("status":"queued")"), std::string::npos);

  const std::string claimed = Claim(*queue, "m");
  EXPECT_NE(claimed.find(R"("job_id":"j1")"), std::string::npos) << claimed;
  EXPECT_NE(claimed.find(R"("payload":"payload of j1")"), std::string::npos) << claimed;
  EXPECT_NE(Get(*queue, "j2", &error).find(R"("queue_position":"0")"), std::string::npos);

  const Fields running{{{"status", "running"}, {"step", "2"}, {"steps", "4"}}};
  const std::vector<flx_kv> kv = running.kv();
  int cancel = -1;
  ASSERT_FALSE(ErrorPtr(Q(*queue).update(queue->self(), "j1", kv.data(), kv.size(), &cancel)));
  EXPECT_EQ(cancel, 0);
  EXPECT_NE(Get(*queue, "j1", &error).find(R"("step":"2")"), std::string::npos);

  ASSERT_FALSE(ErrorPtr(Q(*queue).append_event(queue->self(), "j1", "progress", R"({"s":2})")));
  ASSERT_FALSE(Finish(*queue, "j1", {{{"status", "succeeded"}, {"response", R"({"data":[]})"}}}));
  const std::string events = Events(*queue, "j1");
  EXPECT_NE(events.find(R"({"data":"{\"s\":2}","id":")"), std::string::npos) << events;
  EXPECT_LT(events.find(R"("name":"progress")"), events.find(R"("name":"flx.ended")")) << events;
  EXPECT_NE(events.find(R"("name":"flx.ended")"), std::string::npos) << events;
  const std::string ended = Get(*queue, "j1", &error);
  EXPECT_NE(ended.find(R"("response":"{\"data\":[]}")"), std::string::npos) << ended;
  EXPECT_EQ(ended.find("queue_position"), std::string::npos) << ended;
  // The next claim is j2: j1 left the stream.
  EXPECT_NE(Claim(*queue, "m").find(R"("job_id":"j2")"), std::string::npos);
  EXPECT_EQ(Claim(*queue, "m"), "");  // nothing more
  EXPECT_EQ(Claim(*queue, "other-model"), "");
}

TEST_F(RedisQueuePluginTest, ASecondSubmissionOfAnIdIsAlreadyExists) {
  auto queue = CreateOk();
  ASSERT_TRUE(queue);
  ASSERT_FALSE(Submit(*queue, "same", "m"));
  ErrorPtr again = Submit(*queue, "same", "m");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->code, FLX_ALREADY_EXISTS);
  Claim(*queue, "m");
  EXPECT_EQ(Claim(*queue, "m"), "") << "the refused submission queued nothing";
}

TEST_F(RedisQueuePluginTest, CancelSetsTheFlagTheWorkerReadsAndRefusesEndedJobs) {
  auto queue = CreateOk();
  ASSERT_TRUE(queue);
  ASSERT_FALSE(Submit(*queue, "c1", "m"));
  ASSERT_FALSE(ErrorPtr(Q(*queue).cancel(queue->self(), "c1")));
  Claim(*queue, "m");
  int cancel = 0;
  ASSERT_FALSE(ErrorPtr(Q(*queue).update(queue->self(), "c1", nullptr, 0, &cancel)));
  EXPECT_EQ(cancel, 1);
  ASSERT_FALSE(Finish(*queue, "c1", {{{"status", "cancelled"}}}));
  ErrorPtr ended(Q(*queue).cancel(queue->self(), "c1"));
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->code, FLX_FAILED_PRECONDITION);
  EXPECT_NE(ended->message.find("cancelled"), std::string::npos) << ended->message;
  ErrorPtr unknown(Q(*queue).cancel(queue->self(), "nope"));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->code, FLX_NOT_FOUND);
  EXPECT_EQ(unknown->details.count("expired"), 0u);
}

TEST_F(RedisQueuePluginTest, ListingIsNewestFirstFilteredAndWithoutResults) {
  auto queue = CreateOk();
  ASSERT_TRUE(queue);
  for (const char* id : {"l1", "l2", "l3"}) {
    const Fields record{{{"status", "queued"}, {"created_at", std::string("17000000") + id[1]}}};
    const std::vector<flx_kv> kv = record.kv();
    ASSERT_FALSE(ErrorPtr(Q(*queue).submit(queue->self(), id, "m", kv.data(), kv.size(), "{}")));
  }
  Claim(*queue, "m");
  ASSERT_FALSE(Finish(*queue, "l1", {{{"status", "succeeded"}, {"response", "{\"big\":1}"}}}));
  ErrorPtr error;
  const std::string all = Call(
      [&](flx_buffer* out) { return Q(*queue).list(queue->self(), nullptr, 10, out); }, &error);
  ASSERT_FALSE(error) << Describe(error.get());
  EXPECT_LT(all.find("\"l3\""), all.find("\"l2\"")) << all;
  EXPECT_LT(all.find("\"l2\""), all.find("\"l1\"")) << all;
  EXPECT_EQ(all.find("big"), std::string::npos) << all;
  const std::string succeeded = Call(
      [&](flx_buffer* out) { return Q(*queue).list(queue->self(), "succeeded", 10, out); }, &error);
  EXPECT_NE(succeeded.find("\"l1\""), std::string::npos);
  EXPECT_EQ(succeeded.find("\"l2\""), std::string::npos) << succeeded;
  const std::string one =
      Call([&](flx_buffer* out) { return Q(*queue).list(queue->self(), nullptr, 1, out); }, &error);
  EXPECT_EQ(one.find("\"l2\""), std::string::npos) << one;
}

TEST_F(RedisQueuePluginTest, AFullQueueIsResourceExhaustedWithRetryAfter) {
  auto queue = CreateOk({{"max_queued", "2"}});
  ASSERT_TRUE(queue);
  ASSERT_FALSE(Submit(*queue, "f1", "m"));
  ASSERT_FALSE(Submit(*queue, "f2", "m"));
  ErrorPtr full = Submit(*queue, "f3", "m");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->code, FLX_RESOURCE_EXHAUSTED);
  EXPECT_EQ(full->details.at("retry_after_ms"), "1000");
  EXPECT_NE(full->message.find("max_queued = 2"), std::string::npos) << full->message;
  EXPECT_FALSE(Submit(*queue, "g1", "another-model"));  // queues are per model
  Claim(*queue, "m");                                   // f1 leaves the waiting ones
  EXPECT_FALSE(Submit(*queue, "f3", "m"));
}

TEST_F(RedisQueuePluginTest, AJobDeliveredTooOftenEndsFailedWithItsError) {
  auto first = CreateOk({{"claim_after_s", "3"}, {"max_deliveries", "1"}, {"replica", "r1"}});
  auto second = CreateOk({{"claim_after_s", "3"}, {"max_deliveries", "1"}, {"replica", "r2"}});
  ASSERT_TRUE(first && second);
  ASSERT_FALSE(Submit(*first, "d1", "m"));
  EXPECT_NE(Claim(*first, "m").find("d1"), std::string::npos);  // r1 takes it, then goes quiet
  std::this_thread::sleep_for(std::chrono::milliseconds(3100));
  EXPECT_EQ(Claim(*second, "m"), "");  // the second delivery is past max_deliveries
  ErrorPtr error;
  const std::string record = Get(*second, "d1", &error);
  EXPECT_NE(record.find(R"("status":"failed")"), std::string::npos) << record;
  EXPECT_NE(record.find("job_dead_lettered"), std::string::npos) << record;
  EXPECT_NE(Events(*second, "d1").find("flx.ended"), std::string::npos);
}

TEST_F(RedisQueuePluginTest, AnUnreachableRedisIsUnavailableNamingItsUrl) {
  auto queue = CreateOk({{"url", "redis://127.0.0.1:1/0"}, {"timeout_s", "1"}});
  ASSERT_TRUE(queue);
  ErrorPtr check(Q(*queue).check(queue->self()));
  ASSERT_TRUE(check);
  EXPECT_EQ(check->code, FLX_UNAVAILABLE);
  EXPECT_NE(check->message.find("redis://127.0.0.1:1/0"), std::string::npos) << check->message;
  ErrorPtr submit = Submit(*queue, "u1", "m");
  ASSERT_TRUE(submit);
  EXPECT_EQ(submit->code, FLX_UNAVAILABLE);
}

TEST_F(RedisQueuePluginTest, BadSettingsAreAllReportedWithTheirKeys) {
  ErrorPtr error;
  auto queue = Create({{"url", "http://x"},
                       {"prefix", "bad prefix"},
                       {"claim_after_s", "1"},
                       {"max_deliveries", "0"}},
                      &error);
  ASSERT_FALSE(queue);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, FLX_INVALID_ARGUMENT);
  for (const char* key : {"url:", "prefix", "claim_after_s", "max_deliveries"}) {
    EXPECT_NE(error->message.find(key), std::string::npos) << key << " in " << error->message;
  }
}

class RedisQueuePasswordTest : public RedisQueuePluginTest {
 protected:
  RedisQueuePasswordTest() { password_ = "s3cret"; }
};

TEST_F(RedisQueuePasswordTest, ThePasswordComesFromTheNamedEnvironmentVariable) {
  ::setenv("FLX_TEST_REDIS_PASSWORD", "s3cret", 1);
  auto queue = CreateOk({{"password_env", "FLX_TEST_REDIS_PASSWORD"}});
  ASSERT_TRUE(queue);
  EXPECT_FALSE(ErrorPtr(Q(*queue).check(queue->self())));
  ::setenv("FLX_TEST_REDIS_PASSWORD", "wrong", 1);
  auto refused = CreateOk({{"password_env", "FLX_TEST_REDIS_PASSWORD"}});
  ASSERT_TRUE(refused);
  ErrorPtr check(Q(*refused).check(refused->self()));
  ASSERT_TRUE(check);
  EXPECT_EQ(check->code, FLX_UNAVAILABLE);
  EXPECT_EQ(check->message.find("wrong"), std::string::npos) << "the password leaked";
  ::unsetenv("FLX_TEST_REDIS_PASSWORD");
}

}  // namespace
}  // namespace flx::testing
