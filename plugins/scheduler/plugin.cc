// The flx_scheduler plugin: binds FifoAdmission to the scheduler ABI as type `fifo`.
#include <cstdio>
#include <flx/plugin.hpp>
#include <memory>
#include <string>

#include "fifo_admission.h"
#include "fifo_config.h"

namespace flx::sched {
namespace {

std::string JsonNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.15g", value);
  return text;
}

// The error a refused job returns to the host. Uses only its arguments: after Admit()
// returns during shutdown the scheduler may already be destroyed.
flx::Error RefusalError(const AdmissionResult& result, const FifoLimits& limits) {
  switch (result.outcome) {
    case AdmissionOutcome::kQueueFull:
      return flx::Error(
                 FLX_RESOURCE_EXHAUSTED,
                 "the queue is full: " + std::to_string(result.jobs_ahead) +
                     " requests are waiting (max_queue = " + std::to_string(limits.max_queue) +
                     "); retry in " + std::to_string(result.retry_after_s) + " s")
          .detail("retry_after_ms", std::to_string(result.retry_after_s * 1000));
    case AdmissionOutcome::kTimedOut:
      return flx::Error(FLX_DEADLINE_EXCEEDED,
                        "the request waited " + JsonNumber(result.waited_s) +
                            " s in the queue without being admitted (queue_timeout_s = " +
                            JsonNumber(limits.queue_timeout.count()) + ")");
    case AdmissionOutcome::kCancelled:
      return flx::Error(FLX_CANCELLED, "the request was cancelled while queued");
    case AdmissionOutcome::kShuttingDown:
    case AdmissionOutcome::kAdmitted:
      break;
  }
  return flx::Error(FLX_UNAVAILABLE, "server is shutting down");
}

void EmitAdmissionEvent(const flx::Host& host, const flx_call* call, const AdmissionEvent& event) {
  flx_event e{};
  e.value = event.value;
  switch (event.type) {
    case AdmissionEvent::Type::kQueued:
      e.type = FLX_EVENT_QUEUED;
      break;
    case AdmissionEvent::Type::kAdmitted:
      e.type = FLX_EVENT_ADMITTED;
      break;
    case AdmissionEvent::Type::kRejected:
      e.type = FLX_EVENT_REJECTED;
      e.name = event.reason;
      break;
  }
  host.emit(e, call);
}

class FifoScheduler final : public flx::Scheduler {
 public:
  explicit FifoScheduler(const flx::StageContext& context)
      : host_(context.host),
        admission_(ReadFifoLimits(context.config),
                   [host = context.host](const char* gauge, double value) {
                     host.emit_gauge(gauge, value);
                   }) {}

  // A chain whose admission names no pipeline shares one lock with every other such chain:
  // without a name, serialising is the only safe reading.
  void* admit(const flx_request& request, const flx_admission& admission) override {
    const flx_call* call = FLX_HAS_FIELD(flx_request, &request, call) ? request.call : nullptr;
    AdmissionCandidate candidate;
    if (FLX_HAS_FIELD(flx_admission, &admission, pipeline_id) && admission.pipeline_id) {
      candidate.pipeline_id = admission.pipeline_id;
    }
    candidate.pipeline_threadsafe = FLX_HAS_FIELD(flx_admission, &admission, pipeline_threadsafe) &&
                                    admission.pipeline_threadsafe != 0;
    candidate.cancelled = [call] { return flx::Host::cancelled(call); };
    candidate.on_event = [host = host_, call](const AdmissionEvent& event) {
      EmitAdmissionEvent(host, call, event);
    };
    const FifoLimits limits = admission_.limits();
    AdmissionResult result = admission_.Admit(candidate);
    if (result.outcome != AdmissionOutcome::kAdmitted) throw RefusalError(result, limits);
    return result.ticket.release();
  }

  void release(void* ticket, double seconds) override {
    admission_.Release(std::unique_ptr<AdmissionTicket>(static_cast<AdmissionTicket*>(ticket)),
                       seconds);
  }

  std::string describe() override {
    const FifoLimits& limits = admission_.limits();
    const AdmissionLevels levels = admission_.Levels();
    return std::string("{\"type\":\"fifo\"") +
           ",\"max_concurrent\":" + std::to_string(limits.max_concurrent) +
           ",\"max_queue\":" + std::to_string(limits.max_queue) +
           ",\"queue_timeout_s\":" + JsonNumber(limits.queue_timeout.count()) +
           ",\"poll_interval_ms\":" + std::to_string(limits.poll_interval.count()) +
           ",\"retry_after_window\":" + std::to_string(limits.retry_after_window) +
           ",\"min_retry_after_s\":" + JsonNumber(limits.min_retry_after_s) +
           ",\"queue_depth\":" + std::to_string(levels.queue_depth) +
           ",\"in_flight\":" + std::to_string(levels.in_flight) + "}";
  }

 private:
  const flx::Host host_;
  FifoAdmission admission_;  // declared last: destroyed first, while host_ is still valid
};

}  // namespace
}  // namespace flx::sched

FLX_PLUGIN("flx_scheduler", "1.0.0",
           flx::scheduler_factory<flx::sched::FifoScheduler>("fifo", "1.0.0", FLX_FLAG_THREADSAFE))
