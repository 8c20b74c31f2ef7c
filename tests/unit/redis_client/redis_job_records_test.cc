// RedisJobRecords against a real redis-server: what one replica writes another reads; cancel is
// atomic against the end; ended jobs expire and then read as expired; events replay and follow.
#include "redis_job_records.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "support/redis_server.h"
#include "support/temp_dir.h"

namespace flx::redis {
namespace {

using test::RedisServer;
using test::TempDir;

class RedisJobRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    server_ = RedisServer::Start(dir_.path(), &why);
    ASSERT_NE(server_, nullptr) << why;
    url_ = *ParseRedisUrl(server_->url(), &why);
  }
  TempDir dir_;
  std::unique_ptr<RedisServer> server_;
  RedisUrl url_;
};

TEST_F(RedisJobRecordsTest, WhatOneReplicaWritesAnotherReads) {
  RedisClient front_client(url_, 2.0);
  RedisClient worker_client(url_, 2.0);
  RedisJobRecords front(front_client, RecordSettings{});
  RedisJobRecords worker(worker_client, RecordSettings{});
  front.Create("j1", {{"model", "m"}, {"created_at", "1764250000"}});
  worker.Update("j1", {{"status", "running"}, {"step", "3"}, {"steps", "8"}, {"replica", "b"}});
  const auto fields = front.Get("j1");
  ASSERT_TRUE(fields);
  EXPECT_EQ(fields->at("status"), "running");
  EXPECT_EQ(fields->at("model"), "m");
  EXPECT_EQ(fields->at("step"), "3");
  EXPECT_EQ(front.RequestCancel("j1"), CancelOutcome::kRequested);
  EXPECT_EQ(worker.Get("j1")->at("cancel_requested"), "1");
  worker.End("j1", {{"status", "cancelled"}, {"error_status", "499"}});
  EXPECT_EQ(front.RequestCancel("j1"), CancelOutcome::kAlreadyEnded);
  EXPECT_EQ(front.RequestCancel("nope"), CancelOutcome::kNotFound);
  bool expired = true;
  EXPECT_FALSE(front.Get("nope", &expired));
  EXPECT_FALSE(expired) << "never seen";
}

TEST_F(RedisJobRecordsTest, EndedJobsExpireAndThenReadAsExpired) {
  RedisClient client(url_, 2.0);
  RecordSettings settings;
  settings.result_ttl_s = 0.1;
  RedisJobRecords records(client, settings);
  records.Create("j1", {{"model", "m"}});
  records.AppendEvent("j1", "image_generation.progress", "{}");
  records.End("j1", {{"status", "succeeded"}, {"response", "{\"data\":[]}"}});
  EXPECT_TRUE(records.Get("j1"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  bool expired = false;
  EXPECT_FALSE(records.Get("j1", &expired));
  EXPECT_TRUE(expired);
  EXPECT_EQ(client.Command({"EXISTS", records.EventsKey("j1")}).integer, 0)
      << "its events went with it";
}

TEST_F(RedisJobRecordsTest, EventsReplayFromTheStartAndFollowNewOnes) {
  RedisClient writer_client(url_, 2.0);
  RedisClient reader_client(url_, 5.0);
  RedisJobRecords writer(writer_client, RecordSettings{});
  RedisJobRecords reader(reader_client, RecordSettings{});
  writer.AppendEvent("j1", "image_generation.progress", R"({"step":1})");
  writer.AppendEvent("j1", "image_generation.progress", R"({"step":2})");
  std::vector<StoredEvent> seen = reader.ReadEvents("j1", "0", 10);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].data, R"({"step":2})");
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    writer.AppendEvent("j1", "image_generation.completed", R"({"b64_json":""})");
  });
  const std::vector<StoredEvent> next = reader.ReadEvents("j1", seen.back().id, 3000);
  later.join();
  ASSERT_EQ(next.size(), 1u) << "a blocked read wakes for the next event";
  EXPECT_EQ(next[0].name, "image_generation.completed");
  EXPECT_TRUE(reader.ReadEvents("j1", next[0].id, 10).empty());
}

}  // namespace
}  // namespace flx::redis
