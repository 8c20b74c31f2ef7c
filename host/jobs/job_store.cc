#include "jobs/job_store.h"

#include <algorithm>
#include <utility>

namespace flx {

JobStore::JobStore(JobLimits limits) : limits_(limits) {}

JobStore::~JobStore() { Shutdown(); }

std::optional<std::string> JobStore::Start(const std::shared_ptr<Job>& job, Work work) {
  std::lock_guard<std::mutex> lock(mutex_);
  SweepLocked(UnixNow());
  if (shutting_down_) return std::string("the server is shutting down");
  size_t active = 0;
  for (const auto& [id, kept] : jobs_) active += kept->FinishedAt() ? 0 : 1;
  if (active >= limits_.max_active) {
    return std::to_string(active) + " background jobs are queued or running (the limit, " +
           "server.max_active_jobs)";
  }
  jobs_[job->id()] = job;
  order_.push_back(job->id());
  workers_[job->id()] = std::thread([this, job, work = std::move(work)] {
    work(*job);
    std::lock_guard<std::mutex> done(mutex_);
    finished_workers_.push_back(job->id());
  });
  return std::nullopt;
}

void JobStore::Forget(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  jobs_.erase(id);
  order_.erase(std::remove(order_.begin(), order_.end(), id), order_.end());
}

JobStore::Lookup JobStore::Find(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  SweepLocked(UnixNow());
  Lookup lookup;
  const auto found = jobs_.find(id);
  if (found != jobs_.end()) {
    lookup.job = found->second;
  } else {
    lookup.expired = expired_.count(id) > 0;
  }
  return lookup;
}

std::vector<std::shared_ptr<Job>> JobStore::List(std::optional<JobStatus> status, size_t limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  SweepLocked(UnixNow());
  std::vector<std::shared_ptr<Job>> out;
  for (auto it = order_.rbegin(); it != order_.rend() && out.size() < limit; ++it) {
    const std::shared_ptr<Job>& job = jobs_.at(*it);
    if (status && job->Snapshot(false).status != *status) continue;
    out.push_back(job);
  }
  return out;
}

void JobStore::CancelAll() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [id, job] : jobs_) job->RequestCancel();
}

void JobStore::Shutdown() {
  std::map<std::string, std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shutting_down_ = true;
    for (const auto& [id, job] : jobs_) job->RequestCancel();
    workers.swap(workers_);
    finished_workers_.clear();
  }
  for (auto& [id, worker] : workers) {
    if (worker.joinable()) worker.join();
  }
}

size_t JobStore::Active() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t active = 0;
  for (const auto& [id, job] : jobs_) active += job->FinishedAt() ? 0 : 1;
  return active;
}

void JobStore::JoinFinishedLocked() {
  for (const std::string& id : finished_workers_) {
    const auto worker = workers_.find(id);
    if (worker == workers_.end()) continue;
    // The thread has run its last statement but the lock it took there may still be
    // releasing; join() waits the instant that takes.
    if (worker->second.joinable()) worker->second.join();
    workers_.erase(worker);
  }
  finished_workers_.clear();
}

void JobStore::EvictLocked(const std::string& id) {
  jobs_.erase(id);
  if (expired_.insert(id).second) expired_order_.push_back(id);
  while (expired_order_.size() > 4 * limits_.max_kept) {
    expired_.erase(expired_order_.front());
    expired_order_.pop_front();
  }
}

void JobStore::SweepLocked(double now) {
  JoinFinishedLocked();
  size_t ended = 0;
  size_t bytes = 0;
  for (const auto& [id, job] : jobs_) {
    if (!job->FinishedAt()) continue;
    ++ended;
    bytes += job->Snapshot(false).result_bytes;
  }
  std::deque<std::string> kept;
  for (const std::string& id : order_) {  // oldest first
    const std::shared_ptr<Job>& job = jobs_.at(id);
    const std::optional<double> finished = job->FinishedAt();
    const bool over_caps = ended > limits_.max_kept || bytes > limits_.max_result_bytes;
    if (finished && (now - *finished >= limits_.ttl_s || over_caps)) {
      --ended;
      bytes -= job->Snapshot(false).result_bytes;
      EvictLocked(id);
      continue;
    }
    kept.push_back(id);
  }
  order_.swap(kept);
}

}  // namespace flx
