#include "generation_service.h"

#include <chrono>
#include <thread>

#include "error.h"
#include "logging.h"

namespace flx {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

GenerationError ErrorFrom(flx_error* err, std::vector<FallbackStep> fallbacks = {}) {
  GenerationError out;
  out.status = StatusFromError(err);
  if (err != nullptr) out.details = err->details;
  out.fallbacks = std::move(fallbacks);
  FreeError(err);
  return out;
}

// UNAVAILABLE naming the model and why, unless its pipeline is ready.
std::optional<GenerationError> NotReady(const ModelChain& chain) {
  if (chain.pipeline->readiness() == Readiness::kReady) return std::nullopt;
  return GenerationError{ModelNotReady(chain), FLX_KIND_PIPELINE, {}, {}};
}

// The scheduler's admission (none without a scheduler); the refusal when it refuses.
std::optional<GenerationError> Admit(const ModelChain& chain, const flx_request& request,
                                     flx_ticket** ticket) {
  if (chain.scheduler == nullptr) return std::nullopt;
  flx_admission admission{};
  admission.struct_size = sizeof(admission);
  admission.pipeline_id = chain.pipeline->id.c_str();
  admission.pipeline_threadsafe = chain.pipeline->threadsafe() ? 1 : 0;
  flx_error* err =
      chain.scheduler->scheduler()->admit(chain.scheduler->self, &request, &admission, ticket);
  if (err == nullptr) return std::nullopt;
  GenerationError refused = ErrorFrom(err);
  refused.failed_kind = FLX_KIND_SCHEDULER;
  return refused;
}

// One pipeline call, serialised when the pipeline is not thread-safe.
flx_error* GenerateOnce(StageInstance& pipeline, const flx_request& request, flx_result* result) {
  if (pipeline.threadsafe()) return pipeline.pipeline()->generate(pipeline.self, &request, result);
  std::lock_guard<std::mutex> lock(pipeline.generate_mutex);
  return pipeline.pipeline()->generate(pipeline.self, &request, result);
}

}  // namespace

// The flx_request a chain sees for `input`, re-pointed at the knobs in force before each try.
class BoundRequest {
 public:
  BoundRequest(const GenerationInput& input, flx_call* call) {
    request_.struct_size = sizeof(request_);
    request_.id = call->request_id.c_str();
    request_.model = call->model.c_str();
    request_.prompt = input.prompt.c_str();
    request_.prompt_2 = input.prompt_2 ? input.prompt_2->c_str() : nullptr;
    request_.width = input.width;
    request_.height = input.height;
    request_.steps = input.steps;
    request_.n = input.n;
    request_.guidance = input.guidance;
    request_.max_sequence_length = input.max_sequence_length;
    request_.seed = input.seed;
    request_.call = call;
    request_.dump_dir = input.dump_dir.empty() ? nullptr : input.dump_dir.c_str();
    request_.strength = std::nanf("");
    if (input.edit) BindEdit(*input.edit);
    if (input.loras) BindLoras(*input.loras);
  }
  BoundRequest(const BoundRequest&) = delete;
  BoundRequest& operator=(const BoundRequest&) = delete;

  // Points the request at `overrides`, which must stay unchanged while it is used.
  void SetOverrides(const std::vector<std::pair<std::string, std::string>>& overrides) {
    kvs_.clear();
    for (const auto& [key, value] : overrides) kvs_.push_back({key.c_str(), value.c_str()});
    request_.overrides = kvs_.empty() ? nullptr : kvs_.data();
    request_.n_overrides = kvs_.size();
  }
  const flx_request& get() const { return request_; }

 private:
  void BindEdit(const EditInput& edit) {
    image_ = flx_image{sizeof(flx_image), edit.width, edit.height, 3, size_t{edit.width} * 3,
                       edit.rgb.data()};
    request_.init_image = &image_;
    if (!edit.mask.empty()) {
      mask_ = flx_image{sizeof(flx_image), edit.width, edit.height, 1, edit.width,
                        edit.mask.data()};
      request_.mask = &mask_;
    }
    request_.strength = edit.strength;
  }

  void BindLoras(const std::vector<LoraChoice>& loras) {
    for (const LoraChoice& lora : loras) loras_.push_back({lora.name.c_str(), lora.scale});
    request_.loras = loras_.empty() ? nullptr : loras_.data();
    request_.n_loras = loras_.size();
    request_.loras_given = 1;
  }

  flx_request request_{};
  std::vector<flx_kv> kvs_;
  std::vector<flx_lora> loras_;
  flx_image image_{};
  flx_image mask_{};
};

void MergeOverrides(const std::vector<std::pair<std::string, std::string>>& chosen,
                    std::vector<std::pair<std::string, std::string>>* in_force) {
  for (const auto& [key, value] : chosen) {
    bool replaced = false;
    for (auto& kv : *in_force) {
      if (kv.first == key) {
        kv.second = value;
        replaced = true;
      }
    }
    if (!replaced) in_force->emplace_back(key, value);
  }
}

void GenerationService::Emit(const flx_call* call, const StageInstance& stage,
                             flx_event event) const {
  if (events_ == nullptr) return;
  event.struct_size = sizeof(event);
  event.request_id = call->request_id.c_str();
  event.model = call->model.c_str();
  event.stage_id = stage.id.c_str();
  events_->Deliver(event);
  if (call->observer) call->observer(event);
}

void ExplainDeadline(const flx_call& call, GenerationError* error) {
  if (call.deadline_epoch_s <= 0 || call.cancelled.load()) return;
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (now < call.deadline_epoch_s) return;
  const flx_code code = error->status.code();
  if (code != FLX_CANCELLED && code != FLX_DEADLINE_EXCEEDED) return;
  error->status = Status(FLX_DEADLINE_EXCEEDED,
                         "the request's deadline (timeout_s) passed before it finished: " +
                             error->status.message());
  error->details["deadline"] = "request";
}

std::pair<std::optional<GenerationOutput>, std::optional<GenerationError>> GenerationService::Run(
    const ModelChain& chain, const GenerationInput& input, flx_call* call) {
  auto result = RunUntilDone(chain, input, call);
  if (result.second) ExplainDeadline(*call, &*result.second);
  return result;
}

std::pair<std::optional<GenerationOutput>, std::optional<GenerationError>>
GenerationService::RunUntilDone(const ModelChain& chain, const GenerationInput& input,
                                flx_call* call) {
  StageGraph* graph = hold_pipelines_ ? chain.graph : nullptr;
  // A lazy model may load on demand (after admission, below); others must be ready now.
  if (graph == nullptr || chain.load != ModelLoad::kLazy) {
    if (std::optional<GenerationError> refused = NotReady(chain)) return {std::nullopt, refused};
  }
  BoundRequest request(input, call);
  flx_ticket* ticket = nullptr;
  const Clock::time_point queued_at = Clock::now();
  if (std::optional<GenerationError> refused = Admit(chain, request.get(), &ticket)) {
    return {std::nullopt, refused};
  }
  PipelineLease lease;
  if (graph != nullptr) {
    StatusOr<PipelineLease> acquired = graph->Acquire(chain, *call);
    if (!acquired.ok()) {
      if (chain.scheduler != nullptr) {
        chain.scheduler->scheduler()->release(chain.scheduler->self, ticket, 0);
      }
      return {std::nullopt, GenerationError{acquired.status(), FLX_KIND_PIPELINE, {}, {}}};
    }
    lease = std::move(*acquired);
  }
  GenerationOutput out;
  out.overrides = input.overrides;
  out.queue_seconds = SecondsSince(queued_at);
  const Clock::time_point started = Clock::now();
  std::optional<GenerationError> failure = RunTries(chain, input, request, call, &out);
  out.generate_seconds = SecondsSince(started);
  if (chain.scheduler != nullptr) {
    chain.scheduler->scheduler()->release(chain.scheduler->self, ticket, out.generate_seconds);
  }
  if (failure) return {std::nullopt, std::move(failure)};
  return {std::move(out), std::nullopt};
}

std::optional<GenerationError> GenerationService::RunTries(const ModelChain& chain,
                                                           const GenerationInput& input,
                                                           BoundRequest& request, flx_call* call,
                                                           GenerationOutput* out) {
  for (uint32_t attempt = 1;; ++attempt) {
    request.SetOverrides(out->overrides);
    out->attempts = attempt;
    flx_event started{};
    started.type = FLX_EVENT_STARTED;
    started.step = attempt;
    Emit(call, *chain.pipeline, started);

    flx_result result;
    flx_error* err = GenerateOnce(*chain.pipeline, request.get(), &result);
    if (err == nullptr) return TakeResult(*chain.pipeline, input, std::move(result), out);

    const Status status = StatusFromError(err);
    if (status.code() == FLX_RESOURCE_EXHAUSTED) {
      flx_event oom{};
      oom.type = FLX_EVENT_OOM;
      oom.message = status.message().c_str();
      oom.step = attempt;
      Emit(call, *chain.pipeline, oom);
    }
    flx_decision decision;
    const StageInstance* decided_by =
        call->IsCancelled() || attempt >= kMaxAttempts
            ? nullptr
            : AskRecoveries(chain, request.get(), err, attempt, call, &decision);
    if (decided_by == nullptr) {
      GenerationError failure = ErrorFrom(err, out->fallbacks);
      failure.attempts = attempt;
      return failure;
    }
    FreeError(err);
    ApplyFallback(*decided_by, status, attempt, std::move(decision), call, out);
  }
}

std::optional<GenerationError> GenerationService::TakeResult(const StageInstance& pipeline,
                                                             const GenerationInput& input,
                                                             flx_result result,
                                                             GenerationOutput* out) const {
  if (result.images.size() != input.n) {
    GenerationError wrong{
        Internal("pipeline '" + pipeline.id + "' returned " + std::to_string(result.images.size()) +
                 " images for n=" + std::to_string(input.n)),
        FLX_KIND_PIPELINE,
        {},
        out->fallbacks};
    wrong.attempts = out->attempts;
    return wrong;
  }
  out->images = std::move(result.images);
  out->params = std::move(result.params);
  return std::nullopt;
}

const StageInstance* GenerationService::AskRecoveries(const ModelChain& chain,
                                                      const flx_request& request,
                                                      const flx_error* failure, uint32_t attempt,
                                                      flx_call* call,
                                                      flx_decision* decision) const {
  for (StageInstance* recovery : chain.recoveries) {
    flx_decision asked;
    const Status policy = ConsumeError(
        recovery->recovery()->decide(recovery->self, &request, failure, attempt, &asked));
    if (!policy.ok()) {
      LogWithRequest(*GetLogger("host"), spdlog::level::err, call->request_id,
                     "recovery stage '" + recovery->id + "' failed: " + policy.ToString());
      continue;
    }
    if (asked.retry) {
      *decision = std::move(asked);
      return recovery;
    }
  }
  return nullptr;
}

void GenerationService::ApplyFallback(const StageInstance& decided_by, const Status& failure,
                                      uint32_t attempt, flx_decision decision, flx_call* call,
                                      GenerationOutput* out) const {
  FallbackStep step;
  step.attempt = attempt;
  step.stage_id = decided_by.id;
  step.reason_code = decision.reason_code;
  step.message = decision.message;
  step.failure = failure.ToString();
  step.overrides = decision.overrides;
  MergeOverrides(decision.overrides, &out->overrides);
  LogWithRequest(*GetLogger("host"), spdlog::level::warn, call->request_id,
                 "try " + std::to_string(attempt) + " failed (" + step.failure + "); recovery '" +
                     decided_by.id + "' chose '" + step.reason_code + "': " + step.message);
  flx_event fallback{};
  fallback.type = FLX_EVENT_FALLBACK;
  fallback.name = step.reason_code.c_str();
  fallback.message = step.message.c_str();
  fallback.step = attempt;
  Emit(call, decided_by, fallback);
  out->fallbacks.push_back(std::move(step));
  if (decision.delay_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(decision.delay_ms));
  }
}

}  // namespace flx
