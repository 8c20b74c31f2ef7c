// The job machinery without a server: queue positions learnt from scheduler events, the job
// store's limits and expiry, a job's progress, and the run-time estimates.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "jobs/idempotency_keys.h"
#include "jobs/job.h"
#include "jobs/job_store.h"
#include "jobs/queue_positions.h"
#include "jobs/run_times.h"

namespace flx {
namespace {

flx_event Event(flx_event_type type, const char* request_id, const char* stage = "queue") {
  flx_event e{};
  e.struct_size = sizeof(e);
  e.type = type;
  e.request_id = request_id;
  e.stage_id = stage;
  return e;
}

TEST(QueuePositionsTest, PositionsFollowTheOrderOfJoiningAndShrinkAsRequestsLeave) {
  QueuePositions positions;
  for (const char* id : {"a", "b", "c", "d"}) positions.Observe(Event(FLX_EVENT_QUEUED, id));
  EXPECT_EQ(positions.Position("a"), 1u);
  EXPECT_EQ(positions.Position("d"), 4u);
  positions.Observe(Event(FLX_EVENT_ADMITTED, "a"));
  EXPECT_FALSE(positions.Position("a"));
  EXPECT_EQ(positions.Position("b"), 1u);
  // Admitted ahead of its turn (its pipeline was free): the ones behind it move up.
  positions.Observe(Event(FLX_EVENT_ADMITTED, "c"));
  EXPECT_EQ(positions.Position("d"), 2u);
  positions.Observe(Event(FLX_EVENT_REJECTED, "b"));
  EXPECT_EQ(positions.Position("d"), 1u);
  EXPECT_EQ(positions.Waiting(), 1u);
}

TEST(QueuePositionsTest, EachSchedulerHasItsOwnQueueAndOtherEventsAreIgnored) {
  QueuePositions positions;
  positions.Observe(Event(FLX_EVENT_QUEUED, "a", "q1"));
  positions.Observe(Event(FLX_EVENT_QUEUED, "b", "q2"));
  positions.Observe(Event(FLX_EVENT_QUEUED, "c", "q1"));
  positions.Observe(Event(FLX_EVENT_STEP, "a", "pipe"));
  positions.Observe(Event(FLX_EVENT_QUEUED, nullptr, "q1"));
  EXPECT_EQ(positions.Position("b"), 1u);
  EXPECT_EQ(positions.Position("c"), 2u);
  EXPECT_FALSE(positions.Position("unknown"));
}

std::shared_ptr<Job> NewJob(const std::string& id) {
  return std::make_shared<Job>(id, RunShape{"m", 16, 16, 2, 1}, UnixNow());
}

TEST(JobTest, EventsMoveItFromQueuedToRunningAndTheFirstEndWins) {
  auto job = NewJob("j");
  EXPECT_EQ(job->Snapshot().status, JobStatus::kQueued);
  EXPECT_FALSE(job->WaitPlaced(0.01));
  job->Observe(Event(FLX_EVENT_QUEUED, "j"));
  EXPECT_TRUE(job->WaitPlaced(0));
  job->Observe(Event(FLX_EVENT_STARTED, "j"));
  flx_event step = Event(FLX_EVENT_STEP, "j");
  step.step = 1;
  step.total = 4;
  step.value = 0.5;
  job->Observe(step);
  JobSnapshot s = job->Snapshot();
  EXPECT_EQ(s.status, JobStatus::kRunning);
  EXPECT_EQ(s.step, 1u);
  EXPECT_EQ(s.steps, 4u);
  EXPECT_DOUBLE_EQ(s.step_seconds, 0.5);
  ASSERT_TRUE(s.started_at);
  // A retry starts its steps again.
  job->Observe(Event(FLX_EVENT_STARTED, "j"));
  EXPECT_EQ(job->Snapshot().step, 0u);
  EXPECT_TRUE(job->RequestCancel());
  EXPECT_TRUE(job->call().cancelled.load());
  job->Fail(JobStatus::kCancelled, 499, "{\"error\":{}}");
  job->Succeed("{}");
  s = job->Snapshot();
  EXPECT_EQ(s.status, JobStatus::kCancelled);
  EXPECT_EQ(s.error_status, 499);
  EXPECT_FALSE(job->RequestCancel()) << "nothing left to cancel";
}

TEST(JobStoreTest, MaxActiveRefusesAndEndedJobsDoNotCount) {
  JobLimits limits;
  limits.max_active = 2;
  JobStore store(limits);
  std::atomic<bool> release{false};
  auto block = [&](Job& job) {
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    job.Succeed("{\"ok\":true}");
  };
  EXPECT_FALSE(store.Start(NewJob("a"), block));
  EXPECT_FALSE(store.Start(NewJob("b"), block));
  const std::optional<std::string> refused = store.Start(NewJob("c"), block);
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->find("max_active_jobs"), std::string::npos) << *refused;
  release = true;
  ASSERT_TRUE([&] {
    for (int i = 0; i < 2000 && store.Active() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return store.Active() == 0;
  }());
  EXPECT_FALSE(store.Start(NewJob("c"), block));
  store.Shutdown();
  EXPECT_TRUE(store.Start(NewJob("d"), block)) << "refused after shutdown";
}

void WaitAllEnded(JobStore& store) {
  for (int i = 0; i < 2000 && store.Active() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST(JobStoreTest, EndedJobsExpireAfterTheTtlAndAreReportedExpired) {
  JobLimits limits;
  limits.ttl_s = 0.05;
  JobStore store(limits);
  ASSERT_FALSE(store.Start(NewJob("a"), [](Job& job) { job.Succeed("{}"); }));
  WaitAllEnded(store);
  EXPECT_TRUE(store.Find("a").job);
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  const JobStore::Lookup gone = store.Find("a");
  EXPECT_FALSE(gone.job);
  EXPECT_TRUE(gone.expired);
  EXPECT_FALSE(store.Find("never").expired);
}

TEST(JobStoreTest, TheOldestEndedJobsGoFirstBeyondTheCountAndByteCaps) {
  JobLimits limits;
  limits.max_kept = 2;
  limits.max_result_bytes = 1000;
  JobStore store(limits);
  for (const char* id : {"a", "b", "c"}) {
    ASSERT_FALSE(store.Start(NewJob(id), [](Job& job) { job.Succeed("{}"); }));
    WaitAllEnded(store);
  }
  EXPECT_TRUE(store.Find("a").expired) << "three ended jobs, two kept";
  EXPECT_TRUE(store.Find("b").job);
  ASSERT_FALSE(store.Start(NewJob("big"), [](Job& job) { job.Succeed(std::string(999, ' ')); }));
  WaitAllEnded(store);
  EXPECT_TRUE(store.Find("big").job);
  EXPECT_TRUE(store.Find("b").expired) << "over the byte cap";
  EXPECT_TRUE(store.Find("c").expired);
}

TEST(JobTest, WhatAJobKeepsCountsItsStreamEventsAndItsResult) {
  auto job = NewJob("j");
  job->AddFeedEvent({"image_generation.partial_image", std::string(1000, 'x')});
  EXPECT_EQ(job->Snapshot(false).result_bytes,
            1000 + std::string("image_generation.partial_image").size());
  job->Succeed(std::string(500, 'y'));
  EXPECT_EQ(job->Snapshot(false).result_bytes,
            1500 + std::string("image_generation.partial_image").size());
  job->AddFeedEvent({"late", "ignored after the end"});
  std::vector<FeedEvent> feed;
  EXPECT_TRUE(job->ReadFeed(0, &feed, 0));
  EXPECT_EQ(feed.size(), 1u);
}

TEST(JobStoreTest, ListIsNewestFirstAndFilters) {
  JobStore store(JobLimits{});
  for (const char* id : {"a", "b", "c"}) {
    ASSERT_FALSE(store.Start(NewJob(id), [](Job& job) { job.Succeed("{}"); }));
  }
  WaitAllEnded(store);
  const auto all = store.List(std::nullopt, 10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0]->id(), "c");
  EXPECT_EQ(all[2]->id(), "a");
  EXPECT_EQ(store.List(JobStatus::kSucceeded, 2).size(), 2u);
  EXPECT_TRUE(store.List(JobStatus::kRunning, 10).empty());
  store.Forget("b");
  EXPECT_EQ(store.List(std::nullopt, 10).size(), 2u);
}

TEST(RunTimesTest, EstimatesComeFromMeasuredRunsOfTheSameShape) {
  RunTimes times;
  const RunShape shape{"m", 64, 64, 4, 1};
  EXPECT_FALSE(times.Waiting(shape, 1));
  EXPECT_FALSE(times.Remaining(shape, 0, 0, 0));
  // A running job knows its own pace before anything was measured.
  EXPECT_DOUBLE_EQ(*times.Remaining(shape, 2, 4, 1.0), 1.0);
  times.Record(shape, 4, 2.0, 3.0);  // 0.5 s a step, 1 s for the rest
  EXPECT_DOUBLE_EQ(*times.Waiting(shape, 0), 3.0);
  EXPECT_DOUBLE_EQ(*times.Waiting(shape, 2), 9.0);
  EXPECT_DOUBLE_EQ(*times.Remaining(shape, 0, 0, 0), 3.0);
  EXPECT_DOUBLE_EQ(*times.Remaining(shape, 3, 4, 3.0), 2.0);  // its own 1 s pace + the rest
  EXPECT_FALSE(times.Waiting(RunShape{"m", 128, 128, 4, 1}, 0)) << "another size";
  times.Record(shape, 4, 6.0, 7.0);  // 1.5 s a step: the mean moves a quarter of the way
  EXPECT_DOUBLE_EQ(*times.Waiting(shape, 0), 4 * 0.75 + 1.0);
}

TEST(IdempotencyKeysTest, AKeyIsClaimedOnceThenNamesItsJobForTheSameRequestOnly) {
  IdempotencyKeys keys(8);
  using Kind = IdempotencyKeys::Claim::Kind;
  EXPECT_EQ(keys.ClaimKey("k", "body").kind, Kind::kNew);
  // A second claim waits until the first is bound.
  IdempotencyKeys::Claim second;
  std::thread waiter([&] { second = keys.ClaimKey("k", "body"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  keys.Bind("k", "job-1");
  waiter.join();
  EXPECT_EQ(second.kind, Kind::kExisting);
  EXPECT_EQ(second.job_id, "job-1");
  EXPECT_EQ(keys.ClaimKey("k", "other body").kind, Kind::kMismatch);
  keys.Release("k");
  EXPECT_EQ(keys.ClaimKey("k", "other body").kind, Kind::kNew) << "released keys are free";
}

TEST(IdempotencyKeysTest, TheOldestBoundKeysGoBeyondTheLimit) {
  IdempotencyKeys keys(2);
  using Kind = IdempotencyKeys::Claim::Kind;
  for (const char* key : {"a", "b", "c"}) {
    ASSERT_EQ(keys.ClaimKey(key, "x").kind, Kind::kNew);
    keys.Bind(key, std::string("job-") + key);
  }
  EXPECT_EQ(keys.ClaimKey("a", "y").kind, Kind::kNew) << "a was pushed out";
  EXPECT_EQ(keys.ClaimKey("c", "x").kind, Kind::kExisting);
}

}  // namespace
}  // namespace flx
