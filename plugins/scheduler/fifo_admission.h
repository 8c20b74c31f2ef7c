// FifoAdmission: the admission control behind the `fifo` scheduler stage, written against
// the standard library only so it is tested without a host.
//
// Rules, in the order they are applied to an arriving job:
//   1. After Shutdown() every job is refused with kShuttingDown.
//   2. A job whose cancellation hook already answers true is refused with kCancelled.
//   3. The job joins the back of the queue. Jobs are then admitted front to back while fewer
//      than `max_concurrent` jobs run; a job is passed over (keeps its place, does not block
//      the jobs behind it) while its pipeline is busy, i.e. the pipeline is not thread-safe
//      and a job for it is running. So one busy model never holds up requests for another,
//      and jobs for the same pipeline are still admitted in arrival order.
//   4. A job not admitted at once may wait only if at most `max_queue` jobs (itself included)
//      would be waiting; otherwise it is refused with kQueueFull and a Retry-After estimate.
//   5. A waiting job leaves the queue with kTimedOut after `queue_timeout`, with kCancelled
//      when its cancellation hook (asked every `poll_interval`) answers true, and with
//      kShuttingDown when Shutdown() is called.
//
// The per-pipeline lock covers jobs admitted through one FifoAdmission: chains that share a
// non-thread-safe pipeline instance must share the scheduler stage in front of it.
#ifndef FLX_PLUGINS_SCHEDULER_FIFO_ADMISSION_H_
#define FLX_PLUGINS_SCHEDULER_FIFO_ADMISSION_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "retry_after_estimator.h"

namespace flx::sched {

// The limits one FifoAdmission enforces (the YAML keys of the `fifo` stage, see fifo_config.h).
struct FifoLimits {
  int max_concurrent = 1;  // jobs running at once across all pipelines; >= 1
  int max_queue = 32;      // jobs allowed to wait; >= 0 (0: admit at once or refuse)
  std::chrono::duration<double> queue_timeout{600.0};  // longest wait; > 0
  std::chrono::milliseconds poll_interval{20};         // cancellation polling period; >= 1 ms
  int retry_after_window = 16;   // recent service times averaged for Retry-After; >= 1
  double min_retry_after_s = 1;  // smallest Retry-After, and the one used without history
};

enum class AdmissionOutcome { kAdmitted, kQueueFull, kTimedOut, kCancelled, kShuttingDown };

// The machine-readable reason for a refusal ("queue_full", "queue_timeout", "cancelled",
// "shutting_down"); "admitted" for kAdmitted.
const char* OutcomeReason(AdmissionOutcome outcome);

// What happened to one job, reported through AdmissionCandidate::on_event.
struct AdmissionEvent {
  enum class Type { kQueued, kAdmitted, kRejected };
  Type type;
  // kQueued: the queue depth after joining; kAdmitted: seconds waited; kRejected: 0.
  double value = 0;
  // kRejected: OutcomeReason() of the refusal; otherwise nullptr.
  const char* reason = nullptr;
};

// One job asking to run.
struct AdmissionCandidate {
  // Identifies the pipeline instance the job will enter.
  std::string pipeline_id;
  // True when that pipeline may be entered concurrently.
  bool pipeline_threadsafe = false;
  // Asked while the job waits, without the internal lock held; empty means never cancelled.
  std::function<bool()> cancelled;
  // Told what happens to this job. Runs with the internal lock held, so it must be cheap and
  // must not call back into the FifoAdmission. May be empty.
  std::function<void(const AdmissionEvent&)> on_event;
};

// Proof of admission; handed back to Release() when the job ends.
class AdmissionTicket {
 public:
  const std::string& pipeline_id() const { return pipeline_id_; }

 private:
  friend class FifoAdmission;
  explicit AdmissionTicket(std::string pipeline_id) : pipeline_id_(std::move(pipeline_id)) {}
  std::string pipeline_id_;
};

struct AdmissionResult {
  AdmissionOutcome outcome = AdmissionOutcome::kShuttingDown;
  std::unique_ptr<AdmissionTicket> ticket;  // set exactly when outcome is kAdmitted
  double waited_s = 0;                      // time spent in the queue
  size_t jobs_ahead = 0;      // kQueueFull: jobs that were waiting when it was refused
  int64_t retry_after_s = 0;  // kQueueFull: whole seconds the client should wait
};

// A point-in-time view of the levels, for describe() and tests.
struct AdmissionLevels {
  size_t queue_depth = 0;  // jobs waiting
  size_t in_flight = 0;    // jobs admitted and not yet released
};

class FifoAdmission {
 public:
  // Called with the new level whenever FLX_GAUGE_QUEUE_DEPTH or FLX_GAUGE_IN_FLIGHT changes; runs with the
  // internal lock held (so levels arrive in order), must be cheap and must not re-enter.
  using GaugeHook = std::function<void(const char* gauge, double value)>;

  // `limits` must satisfy the ranges documented on FifoLimits.
  FifoAdmission(const FifoLimits& limits, GaugeHook on_gauge);
  // Calls Shutdown() and waits until every thread blocked in Admit() has returned. Jobs that
  // were admitted are not waited for; Release() must not be called after destruction.
  ~FifoAdmission();
  FifoAdmission(const FifoAdmission&) = delete;
  FifoAdmission& operator=(const FifoAdmission&) = delete;

  // Blocks until the job is admitted or refused (see the rules above). Thread-safe.
  AdmissionResult Admit(const AdmissionCandidate& candidate);

  // Ends an admission. `service_seconds` is how long the job ran; it feeds the Retry-After
  // estimate. Thread-safe; a null ticket is ignored.
  void Release(std::unique_ptr<AdmissionTicket> ticket, double service_seconds);

  // Refuses new jobs and wakes every waiting job with kShuttingDown. Idempotent.
  void Shutdown();

  AdmissionLevels Levels() const;
  const FifoLimits& limits() const { return limits_; }

 private:
  struct Waiter;
  using Clock = std::chrono::steady_clock;

  // Admits waiting jobs front to back while slots are free. Requires mutex_; the caller
  // publishes the new levels once its own change is complete.
  void DispatchLocked();
  bool PipelineBusyLocked(const Waiter& waiter) const;
  // Reports the gauges whose level differs from the last report. Requires mutex_.
  void PublishLevelsLocked();
  // Removes a waiter that gives up (timeout, cancellation, shutdown). Requires mutex_.
  void LeaveQueueLocked(Waiter& waiter);
  // Waits on `lock` until `waiter` is admitted (nullopt), or returns what ended the wait:
  // shutdown, the deadline, or the candidate's cancellation; the waiter has then left the
  // queue.
  std::optional<AdmissionOutcome> WaitForTurnLocked(std::unique_lock<std::mutex>& lock,
                                                    Waiter& waiter,
                                                    const AdmissionCandidate& candidate,
                                                    Clock::time_point deadline);

  const FifoLimits limits_;
  const GaugeHook on_gauge_;

  mutable std::mutex mutex_;
  std::list<Waiter*> queue_;  // front = oldest; waiters live on their Admit() caller's stack
  std::map<std::string, int> running_per_pipeline_;
  size_t in_flight_ = 0;
  size_t published_queue_depth_ = 0;
  size_t published_in_flight_ = 0;
  size_t threads_in_admit_ = 0;
  bool shutting_down_ = false;
  std::condition_variable admit_drained_;  // signalled when threads_in_admit_ reaches 0
  RetryAfterEstimator retry_after_;
};

}  // namespace flx::sched

#endif  // FLX_PLUGINS_SCHEDULER_FIFO_ADMISSION_H_
