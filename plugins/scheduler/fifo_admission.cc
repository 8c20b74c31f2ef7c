#include "fifo_admission.h"

#include <flx/vocabulary.h>

#include <algorithm>
#include <utility>

namespace flx::sched {

const char* OutcomeReason(AdmissionOutcome outcome) {
  switch (outcome) {
    case AdmissionOutcome::kAdmitted:
      return "admitted";
    case AdmissionOutcome::kQueueFull:
      return "queue_full";
    case AdmissionOutcome::kTimedOut:
      return "queue_timeout";
    case AdmissionOutcome::kCancelled:
      return "cancelled";
    case AdmissionOutcome::kShuttingDown:
      return "shutting_down";
  }
  return "unknown";
}

// A job blocked in Admit(). Lives on that call's stack; only touched under mutex_.
struct FifoAdmission::Waiter {
  explicit Waiter(const AdmissionCandidate& c) : candidate(c) {}
  const AdmissionCandidate& candidate;
  std::condition_variable wake;
  bool admitted = false;
  std::list<Waiter*>::iterator position;
};

namespace {

void Notify(const AdmissionCandidate& candidate, AdmissionEvent::Type type, double value,
            const char* reason = nullptr) {
  if (candidate.on_event) candidate.on_event(AdmissionEvent{type, value, reason});
}

}  // namespace

FifoAdmission::FifoAdmission(const FifoLimits& limits, GaugeHook on_gauge)
    : limits_(limits),
      on_gauge_(std::move(on_gauge)),
      retry_after_(static_cast<size_t>(std::max(limits.retry_after_window, 1)),
                   limits.min_retry_after_s) {}

FifoAdmission::~FifoAdmission() {
  Shutdown();
  std::unique_lock<std::mutex> lock(mutex_);
  admit_drained_.wait(lock, [this] { return threads_in_admit_ == 0; });
}

AdmissionResult FifoAdmission::Admit(const AdmissionCandidate& candidate) {
  const Clock::time_point arrived = Clock::now();
  const bool cancelled_on_arrival = candidate.cancelled && candidate.cancelled();

  std::unique_lock<std::mutex> lock(mutex_);
  // Declared after `lock`, so it runs while the lock is still held.
  struct InAdmit {
    FifoAdmission& self;
    explicit InAdmit(FifoAdmission& s) : self(s) { ++self.threads_in_admit_; }
    ~InAdmit() {
      if (--self.threads_in_admit_ == 0) self.admit_drained_.notify_all();
    }
  } in_admit(*this);

  AdmissionResult result;
  auto refuse = [&](AdmissionOutcome outcome) {
    result.outcome = outcome;
    result.waited_s = std::chrono::duration<double>(Clock::now() - arrived).count();
    Notify(candidate, AdmissionEvent::Type::kRejected, 0, OutcomeReason(outcome));
    return std::move(result);
  };
  if (shutting_down_) return refuse(AdmissionOutcome::kShuttingDown);
  if (cancelled_on_arrival) return refuse(AdmissionOutcome::kCancelled);

  Waiter waiter(candidate);
  waiter.position = queue_.insert(queue_.end(), &waiter);
  DispatchLocked();
  if (!waiter.admitted && queue_.size() > static_cast<size_t>(limits_.max_queue)) {
    queue_.erase(waiter.position);
    result.jobs_ahead = queue_.size();
    result.retry_after_s = retry_after_.EstimateSeconds(result.jobs_ahead, limits_.max_concurrent);
    return refuse(AdmissionOutcome::kQueueFull);
  }
  PublishLevelsLocked();
  if (!waiter.admitted) {
    Notify(candidate, AdmissionEvent::Type::kQueued, static_cast<double>(queue_.size()));
  }

  const Clock::time_point deadline =
      arrived + std::chrono::duration_cast<Clock::duration>(limits_.queue_timeout);
  if (const auto outcome = WaitForTurnLocked(lock, waiter, candidate, deadline)) {
    return refuse(*outcome);
  }

  result.outcome = AdmissionOutcome::kAdmitted;
  result.ticket.reset(new AdmissionTicket(candidate.pipeline_id));
  result.waited_s = std::chrono::duration<double>(Clock::now() - arrived).count();
  Notify(candidate, AdmissionEvent::Type::kAdmitted, result.waited_s);
  return result;
}

std::optional<AdmissionOutcome> FifoAdmission::WaitForTurnLocked(
    std::unique_lock<std::mutex>& lock, Waiter& waiter, const AdmissionCandidate& candidate,
    Clock::time_point deadline) {
  while (!waiter.admitted) {
    if (shutting_down_) {
      LeaveQueueLocked(waiter);
      return AdmissionOutcome::kShuttingDown;
    }
    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      LeaveQueueLocked(waiter);
      return AdmissionOutcome::kTimedOut;
    }
    waiter.wake.wait_until(lock,
                           std::min<Clock::time_point>(now + limits_.poll_interval, deadline));
    if (waiter.admitted || shutting_down_ || !candidate.cancelled) continue;
    // The hook may be slow (the host checks the client socket), so ask without the lock; an
    // admission granted meanwhile wins, as the job can still notice cancellation while running.
    lock.unlock();
    const bool cancelled = candidate.cancelled();
    lock.lock();
    if (cancelled && !waiter.admitted) {
      LeaveQueueLocked(waiter);
      return AdmissionOutcome::kCancelled;
    }
  }
  return std::nullopt;
}

void FifoAdmission::Release(std::unique_ptr<AdmissionTicket> ticket, double service_seconds) {
  if (!ticket) return;
  std::lock_guard<std::mutex> lock(mutex_);
  --in_flight_;
  auto running = running_per_pipeline_.find(ticket->pipeline_id());
  if (running != running_per_pipeline_.end() && --running->second == 0) {
    running_per_pipeline_.erase(running);
  }
  retry_after_.Record(service_seconds);
  DispatchLocked();
  PublishLevelsLocked();
}

void FifoAdmission::Shutdown() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (shutting_down_) return;
  shutting_down_ = true;
  for (Waiter* waiter : queue_) waiter->wake.notify_one();
}

AdmissionLevels FifoAdmission::Levels() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return AdmissionLevels{queue_.size(), in_flight_};
}

void FifoAdmission::DispatchLocked() {
  if (shutting_down_) return;
  auto it = queue_.begin();
  while (it != queue_.end() && in_flight_ < static_cast<size_t>(limits_.max_concurrent)) {
    Waiter* waiter = *it;
    if (PipelineBusyLocked(*waiter)) {
      ++it;
      continue;
    }
    it = queue_.erase(it);
    waiter->admitted = true;
    ++in_flight_;
    ++running_per_pipeline_[waiter->candidate.pipeline_id];
    waiter->wake.notify_one();
  }
}

bool FifoAdmission::PipelineBusyLocked(const Waiter& waiter) const {
  return !waiter.candidate.pipeline_threadsafe &&
         running_per_pipeline_.count(waiter.candidate.pipeline_id) > 0;
}

void FifoAdmission::PublishLevelsLocked() {
  if (queue_.size() != published_queue_depth_) {
    published_queue_depth_ = queue_.size();
    if (on_gauge_) on_gauge_(FLX_GAUGE_QUEUE_DEPTH, static_cast<double>(published_queue_depth_));
  }
  if (in_flight_ != published_in_flight_) {
    published_in_flight_ = in_flight_;
    if (on_gauge_) on_gauge_(FLX_GAUGE_IN_FLIGHT, static_cast<double>(published_in_flight_));
  }
}

void FifoAdmission::LeaveQueueLocked(Waiter& waiter) {
  queue_.erase(waiter.position);
  PublishLevelsLocked();
}

}  // namespace flx::sched
