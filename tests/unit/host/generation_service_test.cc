// GenerationService (the retry loop at the host's core) with stages made of hand-written ABI
// tables instead of plugins: each fake records what it was given and answers as scripted.
#include "generation_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "error.h"

namespace flx {
namespace {

using Knobs = std::vector<std::pair<std::string, std::string>>;

void NoDestroy(void*) {}

// Fails try i with failures[i] (FLX_OK: succeeds) and makes `images` images (-1: request.n).
struct FakePipeline {
  std::vector<flx_code> failures;
  int images = -1;
  std::vector<Knobs> seen;  // the knobs of every try, in order

  static flx_error* Generate(void* self, const flx_request* request, flx_result* result) {
    auto* fake = static_cast<FakePipeline*>(self);
    Knobs knobs;
    for (size_t i = 0; i < request->n_overrides; ++i) {
      knobs.emplace_back(request->overrides[i].key, request->overrides[i].value);
    }
    const size_t attempt = fake->seen.size();
    fake->seen.push_back(knobs);
    const flx_code code = attempt < fake->failures.size() ? fake->failures[attempt] : FLX_OK;
    if (code != FLX_OK) {
      flx_error* error = NewError(code, "try " + std::to_string(attempt + 1) + " failed");
      error->details["param"] = "size";
      return error;
    }
    const int n = fake->images < 0 ? static_cast<int>(request->n) : fake->images;
    for (int i = 0; i < n; ++i) result->images.push_back({1, 1, 3, {1, 2, 3}, request->seed + i});
    result->params[FLX_KNOB_STEPS] = "4";
    return nullptr;
  }
};

// Retries every failure with scripted knobs (kRetry), never (kGiveUp), or fails itself (kFail).
struct FakeRecovery {
  enum Mode { kRetry, kGiveUp, kFail } mode = kRetry;
  std::vector<Knobs> knobs;  // the knobs of decision i (the last one repeats)
  std::vector<uint32_t> attempts;

  static flx_error* Decide(void* self, const flx_request*, const flx_error*, uint32_t attempt,
                           flx_decision* decision) {
    auto* fake = static_cast<FakeRecovery*>(self);
    fake->attempts.push_back(attempt);
    if (fake->mode == kFail) return NewError(FLX_INTERNAL, "the policy broke");
    if (fake->mode == kGiveUp) return nullptr;
    decision->retry = true;
    decision->reason_code = "rung" + std::to_string(attempt);
    decision->message = "retrying";
    if (!fake->knobs.empty()) {
      decision->overrides = fake->knobs[std::min<size_t>(attempt - 1, fake->knobs.size() - 1)];
    }
    return nullptr;
  }
};

// Admits or refuses (RESOURCE_EXHAUSTED with retry_after_ms), counting releases.
struct FakeScheduler {
  bool refuse = false;
  int admitted = 0;
  int released = 0;

  static flx_error* Admit(void* self, const flx_request*, const flx_admission*,
                          flx_ticket** ticket) {
    auto* fake = static_cast<FakeScheduler*>(self);
    if (fake->refuse) {
      flx_error* error = NewError(FLX_RESOURCE_EXHAUSTED, "queue full");
      error->details["retry_after_ms"] = "250";
      return error;
    }
    ++fake->admitted;
    *ticket = reinterpret_cast<flx_ticket*>(fake);
    return nullptr;
  }
  static void Release(void* self, flx_ticket*, double) {
    ++static_cast<FakeScheduler*>(self)->released;
  }
};

const flx_pipeline_iface kPipelineIface = {sizeof(flx_pipeline_iface), nullptr,
                                           &FakePipeline::Generate, nullptr};
const flx_recovery_iface kRecoveryIface = {sizeof(flx_recovery_iface), &FakeRecovery::Decide};
const flx_scheduler_iface kSchedulerIface = {sizeof(flx_scheduler_iface), &FakeScheduler::Admit,
                                             &FakeScheduler::Release, nullptr};
const flx_factory kPipelineFactory = {
    sizeof(flx_factory), FLX_KIND_PIPELINE, "fake", "1",    FLX_FLAG_THREADSAFE, nullptr,
    &NoDestroy,          &kPipelineIface,   0,      nullptr};
const flx_factory kRecoveryFactory = {
    sizeof(flx_factory), FLX_KIND_RECOVERY, "fake", "1",    FLX_FLAG_THREADSAFE, nullptr,
    &NoDestroy,          &kRecoveryIface,   0,      nullptr};
const flx_factory kSchedulerFactory = {
    sizeof(flx_factory), FLX_KIND_SCHEDULER, "fake", "1",    FLX_FLAG_THREADSAFE, nullptr,
    &NoDestroy,          &kSchedulerIface,   0,      nullptr};

std::unique_ptr<StageInstance> Stage(const std::string& id, flx_kind kind,
                                     const flx_factory& factory, void* self) {
  auto stage = std::make_unique<StageInstance>();
  stage->id = id;
  stage->kind = kind;
  stage->factory = &factory;
  stage->self = self;
  return stage;
}

struct RecordingSink : EventSink {
  std::vector<flx_event_type> types;
  std::vector<std::string> stages;
  void Deliver(const flx_event& event) override {
    types.push_back(event.type);
    stages.push_back(event.stage_id);
  }
  int Count(flx_event_type type) const {
    return static_cast<int>(std::count(types.begin(), types.end(), type));
  }
};

class GenerationServiceTest : public ::testing::Test {
 protected:
  GenerationServiceTest() {
    pipeline_stage_ = Stage("pipe", FLX_KIND_PIPELINE, kPipelineFactory, &pipeline_);
    pipeline_stage_->SetReadiness(Readiness::kReady, "", 0);
    chain_.id = "model-a";
    chain_.pipeline = pipeline_stage_.get();
    input_.prompt = "a fox";
    input_.n = 2;
    input_.seed = 7;
    call_.request_id = "req-1";
    call_.model = "model-a";
  }

  FakeRecovery& AddRecovery(const std::string& id) {
    recoveries_.push_back(std::make_unique<FakeRecovery>());
    recovery_stages_.push_back(
        Stage(id, FLX_KIND_RECOVERY, kRecoveryFactory, recoveries_.back().get()));
    chain_.recoveries.push_back(recovery_stages_.back().get());
    return *recoveries_.back();
  }

  std::pair<std::optional<GenerationOutput>, std::optional<GenerationError>> Run() {
    return GenerationService(&sink_).Run(chain_, input_, &call_);
  }

  FakePipeline pipeline_;
  std::unique_ptr<StageInstance> pipeline_stage_;
  std::vector<std::unique_ptr<FakeRecovery>> recoveries_;
  std::vector<std::unique_ptr<StageInstance>> recovery_stages_;
  ModelChain chain_;
  GenerationInput input_;
  flx_call call_;
  RecordingSink sink_;
};

TEST_F(GenerationServiceTest, AFirstTryThatSucceedsReturnsItsImagesAndParameters) {
  const auto [out, error] = Run();
  ASSERT_TRUE(out) << error->status.ToString();
  EXPECT_EQ(out->attempts, 1u);
  ASSERT_EQ(out->images.size(), 2u);
  EXPECT_EQ(out->images[1].seed, 8u);
  EXPECT_EQ(out->params.at(FLX_KNOB_STEPS), "4");
  EXPECT_TRUE(out->fallbacks.empty());
  EXPECT_EQ(sink_.types, std::vector<flx_event_type>{FLX_EVENT_STARTED});
}

TEST_F(GenerationServiceTest, EachRetryRunsWithTheChosenKnobsMergedIntoThoseInForce) {
  pipeline_.failures = {FLX_RESOURCE_EXHAUSTED, FLX_RESOURCE_EXHAUSTED};
  input_.overrides = {{FLX_KNOB_ATTENTION_SLICING, "max"}};
  FakeRecovery& ladder = AddRecovery("ladder");
  ladder.knobs = {{{FLX_KNOB_STEPS_FACTOR, "0.5"}},
                  {{FLX_KNOB_STEPS_FACTOR, "0.25"}, {FLX_KNOB_VAE_TILING, "true"}}};
  const auto [out, error] = Run();
  ASSERT_TRUE(out) << error->status.ToString();
  EXPECT_EQ(out->attempts, 3u);
  const std::vector<Knobs> expected = {
      {{FLX_KNOB_ATTENTION_SLICING, "max"}},
      {{FLX_KNOB_ATTENTION_SLICING, "max"}, {FLX_KNOB_STEPS_FACTOR, "0.5"}},
      {{FLX_KNOB_ATTENTION_SLICING, "max"},
       {FLX_KNOB_STEPS_FACTOR, "0.25"},
       {FLX_KNOB_VAE_TILING, "true"}}};
  EXPECT_EQ(pipeline_.seen, expected);
  EXPECT_EQ(out->overrides, expected.back());
  ASSERT_EQ(out->fallbacks.size(), 2u);
  EXPECT_EQ(out->fallbacks[0].reason_code, "rung1");
  EXPECT_EQ(out->fallbacks[1].attempt, 2u);
  EXPECT_EQ(out->fallbacks[1].stage_id, "ladder");
  EXPECT_EQ(out->fallbacks[1].overrides, ladder.knobs[1]);
  EXPECT_EQ(out->fallbacks[0].failure, "RESOURCE_EXHAUSTED: try 1 failed");
  EXPECT_EQ(ladder.attempts, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(sink_.Count(FLX_EVENT_STARTED), 3);
  EXPECT_EQ(sink_.Count(FLX_EVENT_OOM), 2);
  EXPECT_EQ(sink_.Count(FLX_EVENT_FALLBACK), 2);
}

TEST(MergeOverridesTest, ANewValueReplacesInPlaceAndNewKeysAreAppended) {
  Knobs in_force = {{"a", "1"}, {"b", "2"}};
  MergeOverrides({{"b", "3"}, {"c", "4"}}, &in_force);
  EXPECT_EQ(in_force, (Knobs{{"a", "1"}, {"b", "3"}, {"c", "4"}}));
  MergeOverrides({}, &in_force);
  EXPECT_EQ(in_force.size(), 3u);
}

TEST_F(GenerationServiceTest, APolicyThatFailsIsSkippedAndTheNextOneDecides) {
  pipeline_.failures = {FLX_RESOURCE_EXHAUSTED};
  FakeRecovery& broken = AddRecovery("broken");
  broken.mode = FakeRecovery::kFail;
  FakeRecovery& declines = AddRecovery("declines");
  declines.mode = FakeRecovery::kGiveUp;
  AddRecovery("ladder").knobs = {{{FLX_KNOB_EMPTY_CACHE, "true"}}};
  const auto [out, error] = Run();
  ASSERT_TRUE(out) << error->status.ToString();
  EXPECT_EQ(broken.attempts.size(), 1u);
  EXPECT_EQ(declines.attempts.size(), 1u);
  ASSERT_EQ(out->fallbacks.size(), 1u);
  EXPECT_EQ(out->fallbacks[0].stage_id, "ladder");
}

TEST_F(GenerationServiceTest, WithoutARetryTheTriesErrorIsReturnedWithItsDetails) {
  pipeline_.failures = {FLX_INVALID_ARGUMENT};
  AddRecovery("declines").mode = FakeRecovery::kGiveUp;
  const auto [out, error] = Run();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->status.code(), FLX_INVALID_ARGUMENT);
  EXPECT_EQ(error->status.message(), "try 1 failed");
  EXPECT_EQ(error->details.at("param"), "size");
  EXPECT_EQ(error->attempts, 1u);
  EXPECT_EQ(error->failed_kind, FLX_KIND_PIPELINE);
  EXPECT_TRUE(error->fallbacks.empty());
  EXPECT_EQ(sink_.Count(FLX_EVENT_OOM), 0) << "only RESOURCE_EXHAUSTED is an OOM event";
}

TEST_F(GenerationServiceTest, APolicyThatAlwaysRetriesStopsAtMaxAttempts) {
  pipeline_.failures.assign(100, FLX_RESOURCE_EXHAUSTED);
  FakeRecovery& always = AddRecovery("always");
  const auto [out, error] = Run();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->status.code(), FLX_RESOURCE_EXHAUSTED);
  EXPECT_EQ(error->attempts, GenerationService::kMaxAttempts);
  EXPECT_EQ(pipeline_.seen.size(), GenerationService::kMaxAttempts);
  EXPECT_EQ(error->fallbacks.size(), GenerationService::kMaxAttempts - 1);
  EXPECT_EQ(always.attempts.size(), GenerationService::kMaxAttempts - 1)
      << "the last try's failure is not offered for a retry";
}

TEST_F(GenerationServiceTest, ACancelledCallIsNotRetried) {
  pipeline_.failures = {FLX_RESOURCE_EXHAUSTED};
  FakeRecovery& ladder = AddRecovery("ladder");
  call_.cancelled = true;
  const auto [out, error] = Run();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->status.code(), FLX_RESOURCE_EXHAUSTED);
  EXPECT_TRUE(ladder.attempts.empty());
}

TEST_F(GenerationServiceTest, AModelThatIsNotReadyIsUnavailableWithoutATry) {
  pipeline_stage_->SetReadiness(Readiness::kFailed, "weights missing", 0.1);
  const auto [out, error] = Run();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->status.code(), FLX_UNAVAILABLE);
  EXPECT_EQ(error->status.message(), "model 'model-a' is not ready (failed): weights missing");
  EXPECT_TRUE(pipeline_.seen.empty());
  EXPECT_EQ(error->attempts, 0u);
}

TEST_F(GenerationServiceTest, APipelineThatMakesTheWrongNumberOfImagesIsAnInternalError) {
  pipeline_.images = 1;
  const auto [out, error] = Run();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->status.code(), FLX_INTERNAL);
  EXPECT_EQ(error->status.message(), "pipeline 'pipe' returned 1 images for n=2");
  EXPECT_EQ(error->attempts, 1u);
}

TEST_F(GenerationServiceTest, TheSchedulerTicketIsReleasedOnFailureAndARefusalPassesThrough) {
  FakeScheduler scheduler;
  auto stage = Stage("queue", FLX_KIND_SCHEDULER, kSchedulerFactory, &scheduler);
  chain_.scheduler = stage.get();
  pipeline_.failures = {FLX_INTERNAL};
  auto [out, error] = Run();
  ASSERT_TRUE(error);
  EXPECT_EQ(scheduler.admitted, 1);
  EXPECT_EQ(scheduler.released, 1);

  scheduler.refuse = true;
  std::tie(out, error) = Run();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->failed_kind, FLX_KIND_SCHEDULER);
  EXPECT_EQ(error->details.at("retry_after_ms"), "250");
  EXPECT_EQ(error->attempts, 0u);
  EXPECT_EQ(scheduler.released, 1) << "nothing to release after a refusal";
  EXPECT_EQ(pipeline_.seen.size(), 1u);
}

}  // namespace
}  // namespace flx

namespace flx {
namespace {

TEST(ExplainDeadlineTest, ACallPastItsDeadlineFailsAsDeadlineExceededWhoeverNoticed) {
  flx_call call;
  call.deadline_epoch_s = 1;  // long past
  GenerationError error;
  error.status = Status(FLX_CANCELLED, "cancelled during step 3 of 30");
  error.failed_kind = FLX_KIND_SCHEDULER;
  ExplainDeadline(call, &error);
  EXPECT_EQ(error.status.code(), FLX_DEADLINE_EXCEEDED);
  EXPECT_NE(error.status.message().find("step 3 of 30"), std::string::npos);
  EXPECT_EQ(error.details["deadline"], "request");
}

TEST(ExplainDeadlineTest, OtherFailuresAndExplicitCancellationsAreLeftAlone) {
  GenerationError internal;
  internal.status = Status(FLX_INTERNAL, "boom");
  flx_call past;
  past.deadline_epoch_s = 1;
  ExplainDeadline(past, &internal);
  EXPECT_EQ(internal.status.code(), FLX_INTERNAL);

  GenerationError cancelled;
  cancelled.status = Status(FLX_CANCELLED, "client gone");
  flx_call explicit_cancel;
  explicit_cancel.deadline_epoch_s = 1;
  explicit_cancel.cancelled = true;
  ExplainDeadline(explicit_cancel, &cancelled);
  EXPECT_EQ(cancelled.status.code(), FLX_CANCELLED);

  flx_call future;
  future.deadline_epoch_s = 4102444800;  // 2100
  ExplainDeadline(future, &cancelled);
  EXPECT_EQ(cancelled.status.code(), FLX_CANCELLED);
  flx_call none;
  ExplainDeadline(none, &cancelled);
  EXPECT_EQ(cancelled.status.code(), FLX_CANCELLED);
}

}  // namespace
}  // namespace flx
