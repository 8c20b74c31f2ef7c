// Loads flx_scheduler.so through the ABI with the fake host and checks what the binding adds
// to FifoAdmission: config reading, error codes and details, events, describe().
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fake_host.h"
#include "support/sanitizers.h"

namespace flx::testing {
namespace {

constexpr std::chrono::milliseconds kPatience(20000);

class FifoSchedulerPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = PluginPath("flx_scheduler");
    ASSERT_FALSE(path.empty()) << "FLX_PLUGIN_DIR is not set (CTest sets it)";
    std::string why;
    plugin_ = LoadedPlugin::Open(path, &why);
    ASSERT_TRUE(plugin_) << path << ": " << why;
    factory_ = plugin_->Find(FLX_KIND_SCHEDULER, "fifo");
    ASSERT_TRUE(factory_) << "flx_scheduler offers no scheduler type fifo";
  }

  std::unique_ptr<Instance> Create(std::map<std::string, std::string> config, ErrorPtr* error) {
    config_.scalars = std::move(config);
    return Instance::Create(*factory_, host_, config_, error);
  }

  static ErrorPtr Admit(const Instance& scheduler, flx_call* call, const char* pipeline_id,
                        bool threadsafe, flx_ticket** ticket) {
    flx_request request = DefaultRequest("p", call);
    flx_admission admission{sizeof(flx_admission), pipeline_id, threadsafe ? 1 : 0};
    return ErrorPtr(scheduler.iface<flx_scheduler_iface>().admit(scheduler.self(), &request,
                                                                 &admission, ticket));
  }

  static void Release(const Instance& scheduler, flx_ticket* ticket, double seconds) {
    scheduler.iface<flx_scheduler_iface>().release(scheduler.self(), ticket, seconds);
  }

  std::unique_ptr<LoadedPlugin> plugin_;
  const flx_factory* factory_ = nullptr;
  flx_host host_;
  flx_config config_;
};

TEST_F(FifoSchedulerPluginTest, FactoryIsAThreadsafeScheduler) {
  EXPECT_EQ(factory_->kind, FLX_KIND_SCHEDULER);
  EXPECT_EQ(factory_->flags & FLX_FLAG_THREADSAFE, FLX_FLAG_THREADSAFE);
  EXPECT_STREQ(plugin_->info().name, "flx_scheduler");
}

TEST_F(FifoSchedulerPluginTest, DescribeShowsDefaultsAndLevels) {
  ErrorPtr error;
  auto scheduler = Create({}, &error);
  ASSERT_TRUE(scheduler) << Describe(error.get());
  EXPECT_EQ(scheduler->Describe(&error),
            R"({"type":"fifo","max_concurrent":1,"max_queue":32,"queue_timeout_s":600,)"
            R"("poll_interval_ms":20,"retry_after_window":16,"min_retry_after_s":1,)"
            R"("queue_depth":0,"in_flight":0})");

  flx_ticket* ticket = nullptr;
  ASSERT_FALSE(Admit(*scheduler, nullptr, "pipe", false, &ticket));
  EXPECT_NE(scheduler->Describe(&error).find(R"("in_flight":1)"), std::string::npos);
  Release(*scheduler, ticket, 0.5);
}

TEST_F(FifoSchedulerPluginTest, ConfiguredLimitsAreUsed) {
  ErrorPtr error;
  auto scheduler = Create({{"max_concurrent", "4"},
                           {"max_queue", "0"},
                           {"queue_timeout_s", "2.5"},
                           {"poll_interval_ms", "5"},
                           {"retry_after_window", "3"},
                           {"min_retry_after_s", "0"}},
                          &error);
  ASSERT_TRUE(scheduler) << Describe(error.get());
  EXPECT_EQ(scheduler->Describe(&error),
            R"({"type":"fifo","max_concurrent":4,"max_queue":0,"queue_timeout_s":2.5,)"
            R"("poll_interval_ms":5,"retry_after_window":3,"min_retry_after_s":0,)"
            R"("queue_depth":0,"in_flight":0})");
}

TEST_F(FifoSchedulerPluginTest, BadConfigListsEveryProblemWithItsLocation) {
  ErrorPtr error;
  auto scheduler = Create({{"max_concurrent", "0"},
                           {"max_queue", "-1"},
                           {"queue_timeout_s", "0"},
                           {"poll_interval_ms", "soon"},
                           {"min_retry_after_s", "-2"}},
                          &error);
  ASSERT_FALSE(scheduler);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, FLX_INVALID_ARGUMENT);
  for (const char* expected : {
           "fake.yaml:1:1: config: max_concurrent must be between 1 and 2147483647, got 0",
           "fake.yaml:1:1: config: max_queue must be between 0 and 2147483647, got -1",
           "fake.yaml:1:1: config: queue_timeout_s must be > 0 and <= 604800, got 0",
           "fake.yaml:1:1: config.poll_interval_ms: expected an integer, got \"soon\"",
           "fake.yaml:1:1: config: min_retry_after_s must be >= 0 and <= 86400, got -2",
       }) {
    EXPECT_NE(error->message.find(expected), std::string::npos)
        << "missing \"" << expected << "\" in:\n"
        << error->message;
  }
}

TEST_F(FifoSchedulerPluginTest, FullQueueIsResourceExhaustedWithRetryAfter) {
  ErrorPtr error;
  auto scheduler = Create({{"max_queue", "0"}, {"min_retry_after_s", "1"}}, &error);
  ASSERT_TRUE(scheduler) << Describe(error.get());
  flx_ticket* done = nullptr;
  ASSERT_FALSE(Admit(*scheduler, nullptr, "pipe", false, &done));
  Release(*scheduler, done, 2.2);

  flx_ticket* holder = nullptr;
  ASSERT_FALSE(Admit(*scheduler, nullptr, "pipe", false, &holder));
  flx_call call;
  flx_ticket* refused = nullptr;
  error = Admit(*scheduler, &call, "pipe", false, &refused);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, FLX_RESOURCE_EXHAUSTED) << Describe(error.get());
  EXPECT_EQ(error->details["retry_after_ms"], "3000") << "ceil(2.2 s x 1 / 1 slot) = 3 s";
  EXPECT_EQ(refused, nullptr) << "out-parameters stay untouched on error";
  std::vector<FakeEvent> rejected = host_.EventsOfType(FLX_EVENT_REJECTED);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].name, "queue_full");
  EXPECT_EQ(rejected[0].request_id, call.request_id);
  Release(*scheduler, holder, 1);
}

TEST_F(FifoSchedulerPluginTest, WaitingPastTheTimeoutIsDeadlineExceeded) {
  ErrorPtr error;
  auto scheduler = Create({{"queue_timeout_s", "0.05"}, {"poll_interval_ms", "5"}}, &error);
  ASSERT_TRUE(scheduler) << Describe(error.get());
  flx_ticket* holder = nullptr;
  ASSERT_FALSE(Admit(*scheduler, nullptr, "pipe", false, &holder));
  flx_call call;
  flx_ticket* late = nullptr;
  error = Admit(*scheduler, &call, "pipe", false, &late);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, FLX_DEADLINE_EXCEEDED) << Describe(error.get());
  EXPECT_NE(error->message.find("queue_timeout_s = 0.05"), std::string::npos) << error->message;
  std::vector<FakeEvent> queued = host_.EventsOfType(FLX_EVENT_QUEUED);
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].value, 1.0);
  std::vector<FakeEvent> rejected = host_.EventsOfType(FLX_EVENT_REJECTED);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].name, "queue_timeout");
  Release(*scheduler, holder, 1);
}

TEST_F(FifoSchedulerPluginTest, CancelledWhileQueuedIsCancelled) {
  ErrorPtr error;
  auto scheduler = Create({{"poll_interval_ms", "2"}}, &error);
  ASSERT_TRUE(scheduler) << Describe(error.get());
  flx_ticket* holder = nullptr;
  ASSERT_FALSE(Admit(*scheduler, nullptr, "pipe", false, &holder));

  flx_call call;
  ErrorPtr waiter_error;
  std::thread waiter([&] {
    flx_ticket* ticket = nullptr;
    waiter_error = Admit(*scheduler, &call, "pipe", false, &ticket);
  });
  // The first poll is on arrival; the second comes from the queue.
  ASSERT_TRUE(call.WaitForPolls(2, kPatience));
  call.cancelled = true;
  waiter.join();
  ASSERT_TRUE(waiter_error);
  EXPECT_EQ(waiter_error->code, FLX_CANCELLED) << Describe(waiter_error.get());
  std::vector<FakeEvent> rejected = host_.EventsOfType(FLX_EVENT_REJECTED);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].name, "cancelled");
  Release(*scheduler, holder, 1);
}

TEST_F(FifoSchedulerPluginTest, DestroyWakesWaitersWithUnavailable) {
  ErrorPtr error;
  auto scheduler = Create({{"poll_interval_ms", "2"}}, &error);
  ASSERT_TRUE(scheduler) << Describe(error.get());
  // Still running when the server shuts down; its ticket dies with the process (a real host
  // drains first), so LeakSanitizer is told this one leak is on purpose.
  flx_ticket* running = nullptr;
  ASSERT_FALSE(Admit(*scheduler, nullptr, "pipe", false, &running));
  IgnoreIntentionalLeak(running);

  flx_call call;
  ErrorPtr waiter_error;
  const Instance& instance = *scheduler;
  std::thread waiter([&] {
    flx_ticket* ticket = nullptr;
    waiter_error = Admit(instance, &call, "pipe", false, &ticket);
  });
  ASSERT_TRUE(call.WaitForPolls(2, kPatience));
  scheduler.reset();
  waiter.join();
  ASSERT_TRUE(waiter_error);
  EXPECT_EQ(waiter_error->code, FLX_UNAVAILABLE) << Describe(waiter_error.get());
  EXPECT_EQ(waiter_error->message, "server is shutting down");
}

TEST_F(FifoSchedulerPluginTest, ThreadsafePipelinesShareSlotsAndGaugesFollow) {
  ErrorPtr error;
  auto scheduler = Create({{"max_concurrent", "2"}}, &error);
  ASSERT_TRUE(scheduler) << Describe(error.get());
  flx_ticket* first = nullptr;
  flx_ticket* second = nullptr;
  ASSERT_FALSE(Admit(*scheduler, nullptr, "shared", true, &first));
  ASSERT_FALSE(Admit(*scheduler, nullptr, "shared", true, &second));
  Release(*scheduler, first, 1);
  Release(*scheduler, second, 1);

  std::vector<double> in_flight;
  for (const FakeEvent& event : host_.EventsOfType(FLX_EVENT_GAUGE)) {
    if (event.name == "in_flight") in_flight.push_back(event.value);
  }
  EXPECT_EQ(in_flight, (std::vector<double>{1, 2, 1, 0}));
  EXPECT_EQ(host_.EventsOfType(FLX_EVENT_ADMITTED).size(), 2u);
}

}  // namespace
}  // namespace flx::testing
