#include "jobs/job.h"

#include <chrono>
#include <utility>

namespace flx {

const char* JobStatusName(JobStatus status) {
  switch (status) {
    case JobStatus::kQueued:
      return "queued";
    case JobStatus::kRunning:
      return "running";
    case JobStatus::kSucceeded:
      return "succeeded";
    case JobStatus::kFailed:
      return "failed";
    case JobStatus::kCancelled:
      return "cancelled";
  }
  return "failed";
}

std::optional<JobStatus> ParseJobStatus(const std::string& name) {
  for (JobStatus status : {JobStatus::kQueued, JobStatus::kRunning, JobStatus::kSucceeded,
                           JobStatus::kFailed, JobStatus::kCancelled}) {
    if (name == JobStatusName(status)) return status;
  }
  return std::nullopt;
}

bool IsFinal(JobStatus status) {
  return status == JobStatus::kSucceeded || status == JobStatus::kFailed ||
         status == JobStatus::kCancelled;
}

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool PreviewDue(uint32_t step, uint32_t total, uint32_t partial_images) {
  if (partial_images == 0 || step == 0 || step >= total) return false;
  const uint64_t parts = uint64_t(partial_images) + 1;
  return step * parts / total > (step - 1) * parts / total;
}

Job::Job(std::string id, RunShape shape, double created_at)
    : id_(std::move(id)), shape_(std::move(shape)) {
  call_.request_id = id_;
  call_.model = shape_.model;
  state_.id = id_;
  state_.model = shape_.model;
  state_.created_at = created_at;
}

void Job::Observe(const flx_event& event) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (IsFinal(state_.status)) return;
  switch (event.type) {
    case FLX_EVENT_QUEUED:
    case FLX_EVENT_ADMITTED:
      break;
    case FLX_EVENT_STARTED:
      state_.status = JobStatus::kRunning;
      if (!state_.started_at) state_.started_at = UnixNow();
      state_.step = 0;  // a retry starts its steps again
      state_.step_seconds = 0;
      break;
    case FLX_EVENT_STEP:
      state_.step = event.step;
      state_.steps = event.total;
      state_.step_seconds += event.value;
      break;
    default:
      return;
  }
  placed_ = true;
  placed_cv_.notify_all();
}

void Job::EndLocked(JobStatus status) {
  state_.status = status;
  state_.finished_at = UnixNow();
  placed_ = true;
  placed_cv_.notify_all();
}

void Job::Succeed(std::string response_json) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (IsFinal(state_.status)) return;
  state_.result_bytes += response_json.size();
  state_.response_json = std::move(response_json);
  EndLocked(JobStatus::kSucceeded);
}

void Job::Fail(JobStatus status, int http_status, std::string error_json) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (IsFinal(state_.status)) return;
  state_.error_status = http_status;
  state_.result_bytes += error_json.size();
  state_.error_json = std::move(error_json);
  EndLocked(status);
}

void Job::AddFeedEvent(FeedEvent event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (IsFinal(state_.status)) return;
    state_.result_bytes += event.name.size() + event.data.size();
    feed_.push_back(std::move(event));
  }
  placed_cv_.notify_all();
}

bool Job::ReadFeed(size_t next, std::vector<FeedEvent>* out, double seconds) {
  std::unique_lock<std::mutex> lock(mutex_);
  placed_cv_.wait_for(lock, std::chrono::duration<double>(seconds),
                      [&] { return feed_.size() > next || IsFinal(state_.status); });
  for (size_t i = next; i < feed_.size(); ++i) out->push_back(feed_[i]);
  return IsFinal(state_.status);
}

std::optional<uint32_t> Job::TakePreviewIndex(uint32_t limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (previews_sent_ >= limit) return std::nullopt;
  return previews_sent_++;
}

bool Job::RequestCancel() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (IsFinal(state_.status)) return false;
  state_.cancel_requested = true;
  call_.cancelled.store(true);
  return true;
}

bool Job::WaitPlaced(double seconds) {
  std::unique_lock<std::mutex> lock(mutex_);
  return placed_cv_.wait_for(lock, std::chrono::duration<double>(seconds),
                             [this] { return placed_; });
}

bool Job::WaitEnded(double seconds) {
  std::unique_lock<std::mutex> lock(mutex_);
  return placed_cv_.wait_for(lock, std::chrono::duration<double>(seconds),
                             [this] { return IsFinal(state_.status); });
}

JobSnapshot Job::Snapshot(bool with_result) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (with_result) {
    JobSnapshot whole = state_;
    whole.waiting_for_model = call_.waiting_for_model.load();
    return whole;
  }
  JobSnapshot copy;
  copy.id = state_.id;
  copy.model = state_.model;
  copy.status = state_.status;
  copy.step = state_.step;
  copy.steps = state_.steps;
  copy.step_seconds = state_.step_seconds;
  copy.created_at = state_.created_at;
  copy.started_at = state_.started_at;
  copy.finished_at = state_.finished_at;
  copy.waiting_for_model = call_.waiting_for_model.load();
  copy.cancel_requested = state_.cancel_requested;
  copy.error_status = state_.error_status;
  copy.result_bytes = state_.result_bytes;
  return copy;
}

std::optional<double> Job::FinishedAt() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_.finished_at;
}

}  // namespace flx
