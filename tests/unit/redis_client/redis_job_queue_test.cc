// RedisJobQueue against a real redis-server: three replicas (threads with their own clients)
// share 200 jobs, each done exactly once; a replica that dies leaves its job to another after
// claim_after_s; max_deliveries dead-letters; positions count the jobs not yet taken; the
// queue survives a Redis restart.
#include "redis_job_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "support/redis_server.h"
#include "support/temp_dir.h"

namespace flx::redis {
namespace {

using test::RedisServer;
using test::TempDir;

RedisUrl UrlOf(const RedisServer& server) {
  std::string why;
  return *ParseRedisUrl(server.url(), &why);
}

class RedisJobQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    server_ = RedisServer::Start(dir_.path(), &why);
    ASSERT_NE(server_, nullptr) << why;
  }
  TempDir dir_;
  std::unique_ptr<RedisServer> server_;
};

TEST_F(RedisJobQueueTest, ThreeReplicasDoTwoHundredJobsExactlyOnce) {
  RedisClient producer_client(UrlOf(*server_), 2.0);
  RedisJobQueue producer(producer_client, QueueSettings{});
  for (int i = 0; i < 200; ++i) producer.Enqueue("m", "job-" + std::to_string(i), "{}");
  std::mutex mutex;
  std::map<std::string, int> runs;
  std::map<std::string, int> per_replica;
  std::vector<std::thread> replicas;
  for (int r = 0; r < 3; ++r) {
    replicas.emplace_back([&, r] {
      RedisClient client(UrlOf(*server_), 2.0);
      RedisJobQueue queue(client, QueueSettings{});
      const std::string name = "replica-" + std::to_string(r);
      while (auto job = queue.Claim("m", name, 50)) {
        {
          std::lock_guard<std::mutex> lock(mutex);
          ++runs[job->job_id];
          ++per_replica[name];
        }
        queue.Complete(*job);
      }
    });
  }
  for (auto& replica : replicas) replica.join();
  ASSERT_EQ(runs.size(), 200u);
  for (const auto& [id, count] : runs) EXPECT_EQ(count, 1) << id;
  EXPECT_GE(per_replica.size(), 2u) << "the work was shared";
  EXPECT_EQ(producer.Waiting("m"), 0u);
  EXPECT_EQ(producer_client.Command({"XLEN", producer.StreamKey("m")}).integer, 0)
      << "done entries are deleted";
}

TEST_F(RedisJobQueueTest, ADeadReplicasJobIsTakenOverThenDeadLettered) {
  RedisClient client(UrlOf(*server_), 2.0);
  QueueSettings settings;
  settings.claim_after_s = 0.1;
  settings.max_deliveries = 2;
  RedisJobQueue queue(client, settings);
  queue.Enqueue("m", "job-1", "payload");
  auto first = queue.Claim("m", "a", 10);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->deliveries, 1);
  EXPECT_FALSE(queue.Claim("m", "b", 10)) << "not idle long enough yet";
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto second = queue.Claim("m", "b", 10);  // "a" died: "b" takes it over
  ASSERT_TRUE(second);
  EXPECT_EQ(second->job_id, "job-1");
  EXPECT_EQ(second->payload, "payload");
  EXPECT_EQ(second->deliveries, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  std::vector<QueuedJob> dead;
  EXPECT_FALSE(queue.Claim("m", "c", 10, &dead)) << "a third delivery is one too many";
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].job_id, "job-1");
  EXPECT_EQ(queue.DeadLettered("m"), 1u);
  const RedisReply entry = client.Command({"XRANGE", queue.DeadKey("m"), "-", "+"});
  ASSERT_EQ(entry.elements.size(), 1u);
  EXPECT_EQ(entry.elements[0].elements[1].elements.back().text, "delivered 3 times");
}

TEST_F(RedisJobQueueTest, PositionsCountTheJobsNotYetTakenAheadOfOne) {
  RedisClient client(UrlOf(*server_), 2.0);
  RedisJobQueue queue(client, QueueSettings{});
  std::vector<std::string> entries;
  for (int i = 0; i < 5; ++i) entries.push_back(queue.Enqueue("m", "job-" + std::to_string(i), ""));
  EXPECT_EQ(queue.Ahead("m", entries[4]), 4u);
  EXPECT_EQ(queue.Waiting("m"), 5u);
  ASSERT_TRUE(queue.Claim("m", "a", 10));
  ASSERT_TRUE(queue.Claim("m", "a", 10));
  EXPECT_EQ(queue.Ahead("m", entries[4]), 2u);
  EXPECT_EQ(queue.Ahead("m", entries[0]), 0u) << "taken already";
  EXPECT_EQ(queue.Waiting("m"), 3u);
  EXPECT_EQ(queue.Waiting("other"), 0u) << "one stream per model";
}

TEST_F(RedisJobQueueTest, AcceptedJobsSurviveARedisRestart) {
  RedisClient client(UrlOf(*server_), 2.0);
  RedisJobQueue queue(client, QueueSettings{});
  queue.Enqueue("m", "job-1", "kept");
  std::string why;
  ASSERT_TRUE(server_->Restart(&why)) << why;
  auto job = queue.Claim("m", "a", 10);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->payload, "kept");
}

}  // namespace
}  // namespace flx::redis
