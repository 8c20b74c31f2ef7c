#include "event_recorder.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace flx::metrics {
namespace {

std::string Text(const char* s) { return s != nullptr ? std::string(s) : std::string(); }

}  // namespace

EventRecorder::EventRecorder(const MetricsSettings& settings, const BuildInfo& build,
                             MemoryReader resident_memory)
    : settings_(settings),
      resident_memory_(std::move(resident_memory)),
      build_info_(registry_.AddGauge(
          "fluxserve_build_info",
          "Version of the metrics plugin and plugin ABI of the host; the value is always 1.",
          {"version", "abi"})),
      requests_(registry_.AddCounter(
          "fluxserve_requests_total",
          "Image generation requests answered, by model and HTTP status.", {"model", "status"})),
      images_(
          registry_.AddCounter("fluxserve_images_total", "Images generated, by model.", {"model"})),
      rejections_(
          registry_.AddCounter("fluxserve_rejections_total",
                               "Requests a scheduler refused before they ran, by model and reason.",
                               {"model", "reason"})),
      ooms_(registry_.AddCounter("fluxserve_oom_total",
                                 "Generation tries that ran out of memory, by model.", {"model"})),
      fallbacks_(registry_.AddCounter(
          "fluxserve_fallbacks_total",
          "Fallbacks a recovery stage chose after a failed try, by model and rung.",
          {"model", "rung"})),
      cancellations_(registry_.AddCounter(
          "fluxserve_cancellations_total",
          "Requests and jobs that ended cancelled (client gone, cancel route), by model.",
          {"model"})),
      deadlines_exceeded_(registry_.AddCounter(
          "fluxserve_deadline_exceeded_total",
          "Requests and jobs stopped by their deadline (timeout_s), by model.", {"model"})),
      jobs_(registry_.AddCounter("fluxserve_jobs_total",
                                 "Background jobs that ended, by model and final status.",
                                 {"model", "status"})),
      replays_(registry_.AddCounter(
          "fluxserve_idempotent_replays_total",
          "Requests answered by the job an earlier request with the same Idempotency-Key "
          "started, by model.",
          {"model"})),
      job_run_(registry_.AddHistogram(
          "fluxserve_job_run_seconds",
          "Time from a background job's first try to its end, for jobs that ran.", {"model"},
          settings.duration_buckets)),
      request_duration_(registry_.AddHistogram(
          "fluxserve_request_duration_seconds",
          "Time from arrival to answer of image generation requests, any status.", {"model"},
          settings.duration_buckets)),
      queue_wait_(registry_.AddHistogram("fluxserve_queue_wait_seconds",
                                         "Time admitted requests waited in a scheduler queue.",
                                         {"model"}, settings.duration_buckets)),
      phase_duration_(registry_.AddHistogram(
          "fluxserve_phase_seconds",
          "Duration of one generation phase: tokenize, text_encode, denoise, vae_decode "
          "(pipeline), image_encode, save (host).",
          {"model", "phase"}, settings.duration_buckets)),
      step_duration_(registry_.AddHistogram("fluxserve_step_seconds",
                                            "Duration of one denoising step.", {"model"},
                                            settings.duration_buckets)),
      queue_depth_(registry_.AddGauge("fluxserve_queue_depth",
                                      "Requests waiting in a scheduler stage's queue.", {"stage"})),
      in_flight_(registry_.AddGauge("fluxserve_in_flight",
                                    "Requests a scheduler stage has admitted and not released.",
                                    {"stage"})),
      model_ready_(registry_.AddGauge(
          "fluxserve_model_ready",
          "1 when a pipeline stage has loaded and warmed up, 0 when that failed.", {"stage"})),
      weights_bytes_(registry_.AddGauge(
          "fluxserve_weights_bytes", "Bytes of model weights a pipeline stage holds.", {"stage"})),
      shared_queue_waiting_(registry_.AddGauge(
          "fluxserve_shared_queue_waiting",
          "Jobs of a model waiting in the shared job queue (all replicas).", {"model"})),
      resident_memory_bytes_(registry_.AddGauge("fluxserve_process_resident_memory_bytes",
                                                "Resident memory of the server process.", {})) {
  if (settings_.rolling_window == 0) {
    throw std::invalid_argument("rolling_window must be at least 1");
  }
  build_info_.Set({build.version, build.abi}, 1);
}

void EventRecorder::Observe(const flx_event& event) {
  flx_event copy{};
  const size_t readable = std::min(event.struct_size, sizeof(flx_event));
  std::memcpy(&copy, &event, readable);
  std::lock_guard<std::mutex> lock(mutex_);
  ObserveLocked(copy);
}

void EventRecorder::ObserveLocked(const flx_event& event) {
  const std::string model = Text(event.model);
  NoteModel(model);
  switch (event.type) {
    case FLX_EVENT_ADMITTED:
      queue_wait_.Observe({model}, event.value);
      if (PendingRequest* p = Pending(event.request_id)) p->sample.queue_s = event.value;
      break;
    case FLX_EVENT_STEP:
      step_duration_.Observe({model}, event.value);
      if (PendingRequest* p = Pending(event.request_id)) {
        p->sample.step_s += event.value;
        ++p->sample.steps;
      }
      break;
    case FLX_EVENT_PHASE: {
      const std::string phase = Text(event.name);
      if (phase.empty()) break;
      phase_duration_.Observe({model, phase}, event.value);
      PendingRequest* p = Pending(event.request_id);
      if (p == nullptr) break;
      // Summed: a retried request reports each phase once per try.
      if (phase == FLX_PHASE_DENOISE)
        p->sample.denoise_s = p->sample.denoise_s.value_or(0) + event.value;
      if (phase == FLX_PHASE_VAE_DECODE) {
        p->sample.vae_decode_s = p->sample.vae_decode_s.value_or(0) + event.value;
      }
      break;
    }
    case FLX_EVENT_OOM:
      ooms_.Add({model});
      break;
    case FLX_EVENT_FALLBACK:
      fallbacks_.Add({model, Text(event.name)});
      break;
    case FLX_EVENT_REJECTED:
      rejections_.Add({model, Text(event.name)});
      break;
    case FLX_EVENT_COMPLETED:
      Complete(event, model);
      break;
    case FLX_EVENT_GAUGE:
      SetGauge(event);
      break;
    case FLX_EVENT_JOB_ENDED:
      jobs_.Add({model, Text(event.name)});
      if (event.value > 0) job_run_.Observe({model}, event.value);
      break;
    case FLX_EVENT_REPLAYED:
      replays_.Add({model});
      break;
    case FLX_EVENT_QUEUED:
    case FLX_EVENT_STARTED:
    case FLX_EVENT_TYPE_RANGE_:  // types from a newer SDK: nothing to count
      break;
  }
}

void EventRecorder::SetGauge(const flx_event& event) {
  const std::string name = Text(event.name);
  const std::string stage = Text(event.stage_id);
  if (name == FLX_GAUGE_QUEUE_DEPTH) queue_depth_.Set({stage}, event.value);
  if (name == FLX_GAUGE_IN_FLIGHT) in_flight_.Set({stage}, event.value);
  if (name == FLX_GAUGE_MODEL_READY) model_ready_.Set({stage}, event.value);
  if (name == FLX_GAUGE_WEIGHTS_BYTES) weights_bytes_.Set({stage}, event.value);
  if (name == FLX_GAUGE_SHARED_QUEUE_WAITING && event.model != nullptr) {
    shared_queue_waiting_.Set({event.model}, event.value);
  }
}

void EventRecorder::NoteModel(const std::string& model) {
  if (model.empty()) return;
  auto [it, inserted] = rolling_.try_emplace(model, settings_.rolling_window);
  if (!inserted) return;
  images_.Add({model}, 0);
  ooms_.Add({model}, 0);
  cancellations_.Add({model}, 0);
  deadlines_exceeded_.Add({model}, 0);
}

EventRecorder::PendingRequest* EventRecorder::Pending(const char* request_id) {
  if (request_id == nullptr || *request_id == '\0') return nullptr;
  auto [it, inserted] = pending_.try_emplace(request_id);
  if (inserted) {
    it->second.sequence = next_sequence_++;
    if (pending_.size() > kMaxPendingRequests) {
      auto oldest = std::min_element(
          pending_.begin(), pending_.end(),
          [](const auto& a, const auto& b) { return a.second.sequence < b.second.sequence; });
      // The entry just made is the newest, so it is never the one erased.
      pending_.erase(oldest);
    }
  }
  return &it->second;
}

void EventRecorder::Complete(const flx_event& event, const std::string& model) {
  requests_.Add({model, std::to_string(event.code)});
  const std::string code = Text(event.name);
  if (code == "cancelled") cancellations_.Add({model});
  if (code == "deadline_exceeded") deadlines_exceeded_.Add({model});
  if (event.step > 0) images_.Add({model}, event.step);
  request_duration_.Observe({model}, event.value);

  RequestSample sample;
  if (event.request_id != nullptr) {
    auto it = pending_.find(event.request_id);
    if (it != pending_.end()) {
      sample = it->second.sample;
      pending_.erase(it);
    }
  }
  if (model.empty()) return;
  sample.failed = event.code >= 400;
  sample.total_s = event.value;
  rolling_.at(model).Add(sample);
}

std::string EventRecorder::Exposition() {
  std::optional<double> resident = resident_memory_ ? resident_memory_() : std::nullopt;
  std::lock_guard<std::mutex> lock(mutex_);
  if (resident) {
    resident_memory_bytes_.Set({}, *resident);
  } else {
    resident_memory_bytes_.Remove({});
  }
  return registry_.Exposition();
}

std::string EventRecorder::DescribeModel(const std::string& model) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = rolling_.find(model);
  if (it != rolling_.end()) return RollingSummaryJson(it->second.Summarize());
  return RollingSummaryJson(RollingRequestStats(settings_.rolling_window).Summarize());
}

}  // namespace flx::metrics
