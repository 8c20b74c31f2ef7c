#include "fifo_admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace flx::sched {
namespace {

using std::chrono::milliseconds;

// Long enough never to expire on a loaded CI machine, short enough to fail a hung test.
constexpr milliseconds kPatience(20000);

// Records the gauges an admission publishes and lets a test wait for a level, so tests
// synchronise on the scheduler's own state instead of sleeping.
class GaugeWatcher {
 public:
  FifoAdmission::GaugeHook Hook() {
    return [this](const char* gauge, double value) {
      std::lock_guard<std::mutex> lock(mutex_);
      levels_[gauge] = value;
      changed_.notify_all();
    };
  }
  bool WaitFor(const std::string& gauge, double value) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, kPatience, [&] { return levels_[gauge] == value; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, double> levels_;
};

// Records the events of one or more candidates.
class EventLog {
 public:
  std::function<void(const AdmissionEvent&)> Hook() {
    return [this](const AdmissionEvent& event) {
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back(event);
    };
  }
  std::vector<AdmissionEvent> events() {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::vector<AdmissionEvent> events_;
};

AdmissionCandidate Job(const std::string& pipeline, bool threadsafe = false) {
  AdmissionCandidate candidate;
  candidate.pipeline_id = pipeline;
  candidate.pipeline_threadsafe = threadsafe;
  return candidate;
}

// Runs Admit() on its own thread; Wait() joins it and hands over the result.
class AsyncAdmit {
 public:
  AsyncAdmit(FifoAdmission& admission, AdmissionCandidate candidate)
      : candidate_(std::move(candidate)),
        thread_([this, &admission] { result_ = admission.Admit(candidate_); }) {}
  ~AsyncAdmit() {
    if (thread_.joinable()) thread_.join();
  }
  AdmissionResult& Wait() {
    if (thread_.joinable()) thread_.join();
    return result_;
  }

 private:
  AdmissionCandidate candidate_;
  AdmissionResult result_;
  std::thread thread_;
};

FifoLimits Limits(int max_concurrent, int max_queue) {
  FifoLimits limits;
  limits.max_concurrent = max_concurrent;
  limits.max_queue = max_queue;
  limits.poll_interval = milliseconds(2);
  return limits;
}

TEST(FifoAdmissionTest, AdmitsInArrivalOrder) {
  GaugeWatcher gauges;
  FifoAdmission admission(Limits(1, 8), gauges.Hook());
  AdmissionResult holder = admission.Admit(Job("model"));
  ASSERT_EQ(holder.outcome, AdmissionOutcome::kAdmitted);

  std::mutex order_mutex;
  std::vector<int> order;
  EventLog events;
  std::vector<std::unique_ptr<std::thread>> jobs;
  constexpr int kJobs = 5;
  for (int i = 0; i < kJobs; ++i) {
    jobs.push_back(std::make_unique<std::thread>([&, i] {
      AdmissionCandidate candidate = Job("model", /*threadsafe=*/true);
      if (i == 0) candidate.on_event = events.Hook();
      AdmissionResult result = admission.Admit(candidate);
      EXPECT_EQ(result.outcome, AdmissionOutcome::kAdmitted) << "job " << i;
      {
        std::lock_guard<std::mutex> lock(order_mutex);
        order.push_back(i);
      }
      admission.Release(std::move(result.ticket), 0.01);
    }));
    ASSERT_TRUE(gauges.WaitFor("queue_depth", i + 1)) << "job " << i << " never queued";
  }
  admission.Release(std::move(holder.ticket), 0.01);
  for (auto& job : jobs) job->join();

  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  std::vector<AdmissionEvent> first_job_events = events.events();
  ASSERT_EQ(first_job_events.size(), 2u);
  EXPECT_EQ(first_job_events[0].type, AdmissionEvent::Type::kQueued);
  EXPECT_EQ(first_job_events[0].value, 1.0) << "queued event carries the depth after joining";
  EXPECT_EQ(first_job_events[1].type, AdmissionEvent::Type::kAdmitted);
  EXPECT_GE(first_job_events[1].value, 0.0) << "admitted event carries the seconds waited";
  EXPECT_EQ(admission.Levels().queue_depth, 0u);
  EXPECT_EQ(admission.Levels().in_flight, 0u);
}

TEST(FifoAdmissionTest, RespectsLimitsUnderContention) {
  constexpr int kMaxConcurrent = 3;
  constexpr int kThreads = 8;
  constexpr int kJobsPerThread = 25;
  FifoAdmission admission(Limits(kMaxConcurrent, kThreads), nullptr);

  const std::vector<std::pair<std::string, bool>> pipelines = {
      {"serial_a", false}, {"serial_b", false}, {"shared", true}};
  std::atomic<int> running{0};
  std::atomic<int> most_running{0};
  std::map<std::string, std::atomic<int>> running_per_pipeline;
  for (const auto& p : pipelines) running_per_pipeline[p.first].store(0);
  std::atomic<int> serial_overlaps{0};
  std::atomic<int> refused{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < kJobsPerThread; ++j) {
        const auto& [pipeline, threadsafe] = pipelines[(t + j) % pipelines.size()];
        AdmissionResult result = admission.Admit(Job(pipeline, threadsafe));
        if (result.outcome != AdmissionOutcome::kAdmitted) {
          ++refused;
          continue;
        }
        int now = ++running;
        int seen = most_running.load();
        while (now > seen && !most_running.compare_exchange_weak(seen, now)) {
        }
        std::atomic<int>& in_pipeline = running_per_pipeline.at(pipeline);
        if (++in_pipeline > 1 && !threadsafe) ++serial_overlaps;
        for (int spin = 0; spin < 50; ++spin) std::this_thread::yield();
        --in_pipeline;
        --running;
        admission.Release(std::move(result.ticket), 0.001);
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(refused.load(), 0) << "the queue holds every thread, so no job may be refused";
  EXPECT_LE(most_running.load(), kMaxConcurrent);
  EXPECT_EQ(serial_overlaps.load(), 0) << "a non-thread-safe pipeline was entered concurrently";
  EXPECT_EQ(admission.Levels().in_flight, 0u);
}

TEST(FifoAdmissionTest, ThreadsafePipelineTakesEverySlot) {
  GaugeWatcher gauges;
  FifoAdmission admission(Limits(3, 4), gauges.Hook());
  std::vector<AdmissionResult> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(admission.Admit(Job("shared", /*threadsafe=*/true)));
    ASSERT_EQ(held.back().outcome, AdmissionOutcome::kAdmitted) << "admission " << i;
  }
  EXPECT_EQ(admission.Levels().in_flight, 3u);

  AsyncAdmit fourth(admission, Job("shared", /*threadsafe=*/true));
  ASSERT_TRUE(gauges.WaitFor("queue_depth", 1)) << "a fourth job must wait for a slot";
  admission.Release(std::move(held[0].ticket), 0.01);
  AdmissionResult& result = fourth.Wait();
  EXPECT_EQ(result.outcome, AdmissionOutcome::kAdmitted);
  admission.Release(std::move(result.ticket), 0.01);
  for (auto& h : held) admission.Release(std::move(h.ticket), 0.01);
  EXPECT_EQ(admission.Levels().in_flight, 0u);
}

TEST(FifoAdmissionTest, SerialPipelineWaitsEvenWithFreeSlots) {
  GaugeWatcher gauges;
  FifoAdmission admission(Limits(3, 4), gauges.Hook());
  AdmissionResult first = admission.Admit(Job("serial"));
  ASSERT_EQ(first.outcome, AdmissionOutcome::kAdmitted);

  AsyncAdmit second(admission, Job("serial"));
  ASSERT_TRUE(gauges.WaitFor("queue_depth", 1));
  EXPECT_EQ(admission.Levels().in_flight, 1u) << "two slots are free, yet the pipeline is busy";
  admission.Release(std::move(first.ticket), 0.01);
  AdmissionResult& result = second.Wait();
  EXPECT_EQ(result.outcome, AdmissionOutcome::kAdmitted);
  admission.Release(std::move(result.ticket), 0.01);
}

TEST(FifoAdmissionTest, BusyPipelineDoesNotBlockOtherPipelines) {
  GaugeWatcher gauges;
  FifoAdmission admission(Limits(2, 4), gauges.Hook());
  AdmissionResult a = admission.Admit(Job("a"));
  ASSERT_EQ(a.outcome, AdmissionOutcome::kAdmitted);
  AsyncAdmit a_again(admission, Job("a"));
  ASSERT_TRUE(gauges.WaitFor("queue_depth", 1));

  AdmissionResult b = admission.Admit(Job("b"));
  ASSERT_EQ(b.outcome, AdmissionOutcome::kAdmitted) << "b must pass the waiting job for busy a";
  EXPECT_EQ(admission.Levels().in_flight, 2u);

  admission.Release(std::move(b.ticket), 0.01);
  EXPECT_EQ(admission.Levels().queue_depth, 1u) << "a free slot does not make a idle";
  admission.Release(std::move(a.ticket), 0.01);
  AdmissionResult& result = a_again.Wait();
  EXPECT_EQ(result.outcome, AdmissionOutcome::kAdmitted);
  admission.Release(std::move(result.ticket), 0.01);
}

TEST(FifoAdmissionTest, FullQueueRefusesWithRetryAfterFromHistory) {
  GaugeWatcher gauges;
  FifoLimits limits = Limits(1, 1);
  limits.min_retry_after_s = 1;
  FifoAdmission admission(limits, gauges.Hook());
  for (double service_seconds : {2.0, 4.0}) {
    AdmissionResult done = admission.Admit(Job("model"));
    ASSERT_EQ(done.outcome, AdmissionOutcome::kAdmitted);
    admission.Release(std::move(done.ticket), service_seconds);
  }

  AdmissionResult holder = admission.Admit(Job("model"));
  ASSERT_EQ(holder.outcome, AdmissionOutcome::kAdmitted);
  AsyncAdmit waiting(admission, Job("model"));
  ASSERT_TRUE(gauges.WaitFor("queue_depth", 1));

  EventLog events;
  AdmissionCandidate refused_job = Job("model");
  refused_job.on_event = events.Hook();
  AdmissionResult refused = admission.Admit(refused_job);
  EXPECT_EQ(refused.outcome, AdmissionOutcome::kQueueFull);
  EXPECT_FALSE(refused.ticket);
  EXPECT_EQ(refused.jobs_ahead, 1u);
  EXPECT_EQ(refused.retry_after_s, 6) << "mean 3 s x (1 ahead + 1) / 1 slot";
  std::vector<AdmissionEvent> refusal_events = events.events();
  ASSERT_EQ(refusal_events.size(), 1u);
  EXPECT_EQ(refusal_events[0].type, AdmissionEvent::Type::kRejected);
  EXPECT_STREQ(refusal_events[0].reason, "queue_full");
  EXPECT_EQ(admission.Levels().queue_depth, 1u) << "a refused job never joins the queue";

  admission.Release(std::move(holder.ticket), 3);
  AdmissionResult& admitted = waiting.Wait();
  EXPECT_EQ(admitted.outcome, AdmissionOutcome::kAdmitted);
  admission.Release(std::move(admitted.ticket), 3);
}

TEST(FifoAdmissionTest, ZeroQueueRefusesAtOnceWithMinimumRetryAfter) {
  FifoLimits limits = Limits(1, 0);
  limits.min_retry_after_s = 2;
  FifoAdmission admission(limits, nullptr);
  AdmissionResult holder = admission.Admit(Job("model"));
  ASSERT_EQ(holder.outcome, AdmissionOutcome::kAdmitted);

  AdmissionResult refused = admission.Admit(Job("other"));
  EXPECT_EQ(refused.outcome, AdmissionOutcome::kQueueFull);
  EXPECT_EQ(refused.jobs_ahead, 0u);
  EXPECT_EQ(refused.retry_after_s, 2) << "no job finished yet: the minimum applies";
  admission.Release(std::move(holder.ticket), 1);
}

TEST(FifoAdmissionTest, WaitingTooLongTimesOut) {
  FifoLimits limits = Limits(1, 4);
  limits.queue_timeout = milliseconds(50);
  FifoAdmission admission(limits, nullptr);
  AdmissionResult holder = admission.Admit(Job("model"));
  ASSERT_EQ(holder.outcome, AdmissionOutcome::kAdmitted);

  EventLog events;
  AdmissionCandidate late = Job("model");
  late.on_event = events.Hook();
  const auto started = std::chrono::steady_clock::now();
  AdmissionResult result = admission.Admit(late);
  const auto elapsed = std::chrono::steady_clock::now() - started;

  EXPECT_EQ(result.outcome, AdmissionOutcome::kTimedOut);
  EXPECT_LT(elapsed, kPatience) << "the 50 ms timeout did not end the wait";
  EXPECT_EQ(admission.Levels().queue_depth, 0u) << "a timed-out job must leave the queue";
  std::vector<AdmissionEvent> log = events.events();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].type, AdmissionEvent::Type::kQueued);
  EXPECT_EQ(log[1].type, AdmissionEvent::Type::kRejected);
  EXPECT_STREQ(log[1].reason, "queue_timeout");
  admission.Release(std::move(holder.ticket), 1);
}

TEST(FifoAdmissionTest, CancelledWaiterLeavesAndLetsTheNextIn) {
  GaugeWatcher gauges;
  FifoAdmission admission(Limits(1, 4), gauges.Hook());
  AdmissionResult holder = admission.Admit(Job("model"));
  ASSERT_EQ(holder.outcome, AdmissionOutcome::kAdmitted);

  std::atomic<bool> client_gone{false};
  AdmissionCandidate cancellable = Job("model");
  cancellable.cancelled = [&] { return client_gone.load(); };
  AsyncAdmit first(admission, cancellable);
  ASSERT_TRUE(gauges.WaitFor("queue_depth", 1));
  AsyncAdmit second(admission, Job("model"));
  ASSERT_TRUE(gauges.WaitFor("queue_depth", 2));

  client_gone = true;
  EXPECT_EQ(first.Wait().outcome, AdmissionOutcome::kCancelled);
  EXPECT_EQ(admission.Levels().queue_depth, 1u);

  admission.Release(std::move(holder.ticket), 1);
  AdmissionResult& next = second.Wait();
  EXPECT_EQ(next.outcome, AdmissionOutcome::kAdmitted) << "the job behind the cancelled one";
  admission.Release(std::move(next.ticket), 1);
}

TEST(FifoAdmissionTest, CancelledBeforeArrivalNeverQueues) {
  FifoAdmission admission(Limits(1, 4), nullptr);
  AdmissionCandidate gone = Job("model");
  gone.cancelled = [] { return true; };
  AdmissionResult result = admission.Admit(gone);
  EXPECT_EQ(result.outcome, AdmissionOutcome::kCancelled);
  EXPECT_EQ(admission.Levels().in_flight, 0u);
  EXPECT_EQ(admission.Levels().queue_depth, 0u);
}

TEST(FifoAdmissionTest, ShutdownWakesEveryWaiterAndRefusesNewJobs) {
  GaugeWatcher gauges;
  FifoAdmission admission(Limits(1, 4), gauges.Hook());
  AdmissionResult holder = admission.Admit(Job("model"));
  ASSERT_EQ(holder.outcome, AdmissionOutcome::kAdmitted);
  std::vector<std::unique_ptr<AsyncAdmit>> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.push_back(std::make_unique<AsyncAdmit>(admission, Job("model")));
    ASSERT_TRUE(gauges.WaitFor("queue_depth", i + 1));
  }

  admission.Shutdown();
  for (size_t i = 0; i < waiters.size(); ++i) {
    EXPECT_EQ(waiters[i]->Wait().outcome, AdmissionOutcome::kShuttingDown) << "waiter " << i;
  }
  EXPECT_EQ(admission.Levels().queue_depth, 0u);
  EXPECT_EQ(admission.Admit(Job("other")).outcome, AdmissionOutcome::kShuttingDown);
  admission.Release(std::move(holder.ticket), 1);
  EXPECT_EQ(admission.Levels().in_flight, 0u);
}

TEST(FifoAdmissionTest, DestructionWaitsForWaitersToLeave) {
  GaugeWatcher gauges;
  auto admission = std::make_unique<FifoAdmission>(Limits(1, 4), gauges.Hook());
  AdmissionResult holder = admission->Admit(Job("model"));
  ASSERT_EQ(holder.outcome, AdmissionOutcome::kAdmitted);
  AsyncAdmit first(*admission, Job("model"));
  AsyncAdmit second(*admission, Job("model"));
  ASSERT_TRUE(gauges.WaitFor("queue_depth", 2));

  admission.reset();
  EXPECT_EQ(first.Wait().outcome, AdmissionOutcome::kShuttingDown);
  EXPECT_EQ(second.Wait().outcome, AdmissionOutcome::kShuttingDown);
}

}  // namespace
}  // namespace flx::sched
