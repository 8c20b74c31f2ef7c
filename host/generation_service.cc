#include "generation_service.h"

#include <chrono>
#include <thread>

#include "error.h"
#include "logging.h"

namespace flx {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

GenerationError ErrorFrom(flx_error* err, std::vector<FallbackStep> fallbacks = {}) {
  GenerationError out;
  out.status = StatusFromError(err);
  if (err != nullptr) out.details = err->details;
  out.fallbacks = std::move(fallbacks);
  FreeError(err);
  return out;
}

void EmitHostEvent(StageGraph* graph, const flx_call* call, const StageInstance* stage,
                   flx_event event) {
  event.struct_size = sizeof(event);
  event.request_id = call->request_id.c_str();
  event.model = call->model.c_str();
  event.stage_id = stage->id.c_str();
  graph->Deliver(event);
}

}  // namespace

std::pair<std::optional<GenerationOutput>, std::optional<GenerationError>> GenerationService::Run(
    const ModelChain& chain, const GenerationInput& input, flx_call* call) {
  using Clock = std::chrono::steady_clock;
  GenerationOutput out;
  out.overrides = input.overrides;
  auto logger = GetLogger("host");

  flx_request request{};
  request.struct_size = sizeof(request);
  request.id = call->request_id.c_str();
  request.model = call->model.c_str();
  request.prompt = input.prompt.c_str();
  request.prompt_2 = input.prompt_2 ? input.prompt_2->c_str() : nullptr;
  request.width = input.width;
  request.height = input.height;
  request.steps = input.steps;
  request.n = input.n;
  request.guidance = input.guidance;
  request.max_sequence_length = input.max_sequence_length;
  request.seed = input.seed;
  request.call = call;
  request.dump_dir = input.dump_dir.empty() ? nullptr : input.dump_dir.c_str();

  StageInstance* pipeline = chain.pipeline;
  if (pipeline->readiness() != Readiness::kReady) {
    std::string why = "model '" + chain.id + "' is not ready (" +
                      ReadinessName(pipeline->readiness()) + ")";
    if (pipeline->readiness() == Readiness::kFailed) {
      why += ": " + pipeline->readiness_message();
    }
    return {std::nullopt, GenerationError{Unavailable(why), FLX_KIND_PIPELINE, {}, {}}};
  }

  // Admission.
  flx_ticket* ticket = nullptr;
  auto queued_at = Clock::now();
  if (chain.scheduler != nullptr) {
    flx_admission admission{};
    admission.struct_size = sizeof(admission);
    admission.pipeline_id = pipeline->id.c_str();
    admission.pipeline_threadsafe = pipeline->threadsafe() ? 1 : 0;
    flx_error* err = chain.scheduler->scheduler()->admit(chain.scheduler->self, &request,
                                                         &admission, &ticket);
    if (err != nullptr) {
      GenerationError refused = ErrorFrom(err);
      refused.failed_kind = FLX_KIND_SCHEDULER;
      return {std::nullopt, std::move(refused)};
    }
  }
  out.queue_seconds = SecondsSince(queued_at);

  // Tries, with recovery.
  auto started = Clock::now();
  std::vector<flx_kv> kvs;
  std::optional<GenerationError> failure;
  for (uint32_t attempt = 1;; ++attempt) {
    kvs.clear();
    for (const auto& [k, v] : out.overrides) kvs.push_back({k.c_str(), v.c_str()});
    request.overrides = kvs.empty() ? nullptr : kvs.data();
    request.n_overrides = kvs.size();
    out.attempts = attempt;

    flx_event started_event{};
    started_event.type = FLX_EVENT_STARTED;
    started_event.step = attempt;
    EmitHostEvent(graph_, call, pipeline, started_event);

    flx_result result;
    flx_error* err;
    if (pipeline->threadsafe()) {
      err = pipeline->pipeline()->generate(pipeline->self, &request, &result);
    } else {
      std::lock_guard<std::mutex> lock(pipeline->generate_mutex);
      err = pipeline->pipeline()->generate(pipeline->self, &request, &result);
    }
    if (err == nullptr) {
      if (result.images.size() != input.n) {
        failure = GenerationError{
            Internal("pipeline '" + pipeline->id + "' returned " +
                     std::to_string(result.images.size()) + " images for n=" +
                     std::to_string(input.n)),
            FLX_KIND_PIPELINE,
            {},
            out.fallbacks};
        break;
      }
      out.images = std::move(result.images);
      out.params = std::move(result.params);
      break;
    }

    Status st = StatusFromError(err);
    if (st.code() == FLX_RESOURCE_EXHAUSTED) {
      flx_event oom{};
      oom.type = FLX_EVENT_OOM;
      oom.message = st.message().c_str();
      oom.step = attempt;
      EmitHostEvent(graph_, call, pipeline, oom);
    }
    // Ask the policies in order; the first that retries decides.
    flx_decision decision;
    const StageInstance* decided_by = nullptr;
    if (!call->IsCancelled() && attempt < kMaxAttempts) {
      for (StageInstance* rec : chain.recoveries) {
        flx_decision d;
        Status policy = ConsumeError(rec->recovery()->decide(rec->self, &request, err, attempt, &d));
        if (!policy.ok()) {
          LogWithRequest(*logger, spdlog::level::err, call->request_id,
                         "recovery stage '" + rec->id + "' failed: " + policy.ToString());
          continue;
        }
        if (d.retry) {
          decision = std::move(d);
          decided_by = rec;
          break;
        }
      }
    }
    if (decided_by == nullptr) {
      failure = ErrorFrom(err, out.fallbacks);
      break;
    }
    FallbackStep step;
    step.attempt = attempt;
    step.stage_id = decided_by->id;
    step.reason_code = decision.reason_code;
    step.message = decision.message;
    step.failure = st.ToString();
    step.overrides = decision.overrides;
    FreeError(err);
    for (const auto& [k, v] : decision.overrides) {
      bool replaced = false;
      for (auto& kv : out.overrides) {
        if (kv.first == k) {
          kv.second = v;
          replaced = true;
        }
      }
      if (!replaced) out.overrides.emplace_back(k, v);
    }
    LogWithRequest(*logger, spdlog::level::warn, call->request_id,
                   "try " + std::to_string(attempt) + " failed (" + step.failure +
                       "); recovery '" + decided_by->id + "' chose '" + step.reason_code +
                       "': " + step.message);
    flx_event fb{};
    fb.type = FLX_EVENT_FALLBACK;
    fb.name = step.reason_code.c_str();
    fb.message = step.message.c_str();
    fb.step = attempt;
    EmitHostEvent(graph_, call, decided_by, fb);
    out.fallbacks.push_back(std::move(step));
    if (decision.delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(decision.delay_ms));
    }
  }
  out.generate_seconds = SecondsSince(started);
  if (failure) failure->attempts = out.attempts;
  if (chain.scheduler != nullptr) {
    chain.scheduler->scheduler()->release(chain.scheduler->self, ticket, out.generate_seconds);
  }
  if (failure) return {std::nullopt, std::move(failure)};
  return {std::move(out), std::nullopt};
}

}  // namespace flx
