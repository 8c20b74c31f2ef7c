// Turns fluxserve events (flx_event) into Prometheus series and per-model rolling averages.
// The core of the `prometheus` metrics stage, usable without a host.
//
// Series (label names in braces):
//   fluxserve_build_info{version,abi}                 gauge, always 1
//   fluxserve_requests_total{model,status}            COMPLETED, status = HTTP status
//   fluxserve_images_total{model}                     COMPLETED, by images made
//   fluxserve_rejections_total{model,reason}          REJECTED, reason = e.g. queue_full
//   fluxserve_oom_total{model}                        OOM
//   fluxserve_fallbacks_total{model,rung}             FALLBACK, rung = recovery reason code
//   fluxserve_request_duration_seconds{model}         COMPLETED total time (histogram)
//   fluxserve_queue_wait_seconds{model}               ADMITTED wait (histogram)
//   fluxserve_phase_seconds{model,phase}              PHASE (histogram); one family for all
//                                                     phases so a dashboard can stack them
//   fluxserve_step_seconds{model}                     STEP (histogram)
//   fluxserve_cancellations_total{model}              COMPLETED with code cancelled
//   fluxserve_deadline_exceeded_total{model}          COMPLETED with code deadline_exceeded
//   fluxserve_jobs_total{model,status}                JOB_ENDED: background jobs by final status
//   fluxserve_job_run_seconds{model}                  JOB_ENDED run time, jobs that ran (histogram)
//   fluxserve_idempotent_replays_total{model}         REPLAYED
//   fluxserve_queue_depth{stage}                      GAUGE FLX_GAUGE_QUEUE_DEPTH
//   fluxserve_in_flight{stage}                        GAUGE FLX_GAUGE_IN_FLIGHT
//   fluxserve_model_ready{stage}                      GAUGE FLX_GAUGE_MODEL_READY
//   fluxserve_weights_bytes{stage}                    GAUGE FLX_GAUGE_WEIGHTS_BYTES
//   fluxserve_shared_queue_waiting{model}             GAUGE FLX_GAUGE_SHARED_QUEUE_WAITING
//   fluxserve_process_resident_memory_bytes           read at scrape
// Requests refused before their model was known (bad JSON, unknown model) count under
// model="". Gauges of other names, and QUEUED and STARTED events, are not exported. The
// first event naming a model creates its requests-independent counters at 0 (images, OOMs),
// so rate() works before the first image.
#ifndef FLX_PLUGINS_METRICS_EVENT_RECORDER_H_
#define FLX_PLUGINS_METRICS_EVENT_RECORDER_H_

#include <flx/flx.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "metric_registry.h"
#include "metrics_settings.h"
#include "rolling_request_stats.h"

namespace flx::metrics {

// The labels of fluxserve_build_info.
struct BuildInfo {
  std::string version;  // the metrics plugin's version
  std::string abi;      // the plugin ABI the host speaks, "major.minor"
};

// Requests whose COMPLETED event has not arrived yet are tracked up to this many; beyond it
// the oldest is forgotten, so events that never complete cannot grow memory without bound.
inline constexpr size_t kMaxPendingRequests = 10000;

class EventRecorder {
 public:
  // Returns the resident memory in bytes, or nullopt when unknown.
  using MemoryReader = std::function<std::optional<double>()>;

  // Throws std::invalid_argument for a rolling window of 0 or invalid duration buckets.
  EventRecorder(const MetricsSettings& settings, const BuildInfo& build,
                MemoryReader resident_memory);

  // Records one event. Thread-safe; takes a mutex around small maps and does no I/O.
  // Strings may be NULL; a struct shorter than this build's flx_event is read up to its
  // struct_size.
  void Observe(const flx_event& event);

  // The text exposition of every series. Thread-safe; calls the memory reader first,
  // outside the lock.
  std::string Exposition();

  // The rolling averages of `model` as a JSON object (see RollingSummaryJson); a model
  // without completed requests gets requests 0 and null averages. Thread-safe.
  std::string DescribeModel(const std::string& model);

 private:
  struct PendingRequest {
    uint64_t sequence = 0;  // arrival order, for evicting the oldest
    RequestSample sample;
  };

  void ObserveLocked(const flx_event& event);
  // A GAUGE event: the level of a known gauge for its stage; other gauges are ignored.
  void SetGauge(const flx_event& event);
  void NoteModel(const std::string& model);
  PendingRequest* Pending(const char* request_id);
  void Complete(const flx_event& event, const std::string& model);

  const MetricsSettings settings_;
  const MemoryReader resident_memory_;

  std::mutex mutex_;
  MetricRegistry registry_;
  GaugeFamily& build_info_;
  CounterFamily& requests_;
  CounterFamily& images_;
  CounterFamily& rejections_;
  CounterFamily& ooms_;
  CounterFamily& fallbacks_;
  CounterFamily& cancellations_;
  CounterFamily& deadlines_exceeded_;
  CounterFamily& jobs_;
  CounterFamily& replays_;
  HistogramFamily& job_run_;
  HistogramFamily& request_duration_;
  HistogramFamily& queue_wait_;
  HistogramFamily& phase_duration_;
  HistogramFamily& step_duration_;
  GaugeFamily& queue_depth_;
  GaugeFamily& in_flight_;
  GaugeFamily& model_ready_;
  GaugeFamily& weights_bytes_;
  GaugeFamily& shared_queue_waiting_;
  GaugeFamily& resident_memory_bytes_;

  std::map<std::string, RollingRequestStats> rolling_;       // by model
  std::unordered_map<std::string, PendingRequest> pending_;  // by request id
  uint64_t next_sequence_ = 0;
};

}  // namespace flx::metrics

#endif  // FLX_PLUGINS_METRICS_EVENT_RECORDER_H_
