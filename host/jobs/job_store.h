// The background jobs of one server: starts each on its own worker thread, finds them by id,
// lists them, cancels them, and forgets ended ones after job_ttl_s. Memory stays bounded:
// at most max_active jobs queued or running (more are refused), and of the ended ones at
// most max_kept jobs and max_result_bytes of what they keep (response or error, and their
// stream events: progress and partial images), the oldest going first. An id
// that was forgotten is remembered (up to 4 x max_kept ids) so a late poll hears "expired"
// rather than "no such job".
#ifndef FLX_HOST_JOBS_JOB_STORE_H_
#define FLX_HOST_JOBS_JOB_STORE_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "jobs/job.h"

namespace flx {

struct JobLimits {
  double ttl_s = 3600;                          // how long an ended job's result is kept; > 0
  size_t max_active = 64;                       // jobs queued or running at once; >= 1
  size_t max_kept = 1000;                       // ended jobs kept; >= 1
  size_t max_result_bytes = size_t{512} << 20;  // what they keep (Job result_bytes), summed
};

class JobStore {
 public:
  // Runs a job to its end (Succeed or Fail); called on the job's worker thread.
  using Work = std::function<void(Job& job)>;

  struct Lookup {
    std::shared_ptr<Job> job;  // null when not found
    bool expired = false;      // not found because it ended more than ttl_s ago or was evicted
  };

  explicit JobStore(JobLimits limits);
  // Cancels every job and joins their threads.
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  // Keeps `job` and runs `work` on a new thread. Refused, with the reason, when max_active
  // jobs are queued or running or the store is shutting down.
  std::optional<std::string> Start(const std::shared_ptr<Job>& job, Work work);
  // Drops a job at once (a submission answered with an error instead of a job).
  void Forget(const std::string& id);
  Lookup Find(const std::string& id);
  // Jobs newest first, those in `status` only when given, at most `limit`.
  std::vector<std::shared_ptr<Job>> List(std::optional<JobStatus> status, size_t limit);
  // Requests cancellation of every job that has not ended (graceful shutdown).
  void CancelAll();
  // Cancels every job, refuses new ones and joins every worker thread.
  void Shutdown();
  size_t Active() const;
  const JobLimits& limits() const { return limits_; }

 private:
  // Forgets ended jobs past their TTL or beyond the caps; joins finished workers. Requires
  // mutex_.
  void SweepLocked(double now);
  void EvictLocked(const std::string& id);
  void JoinFinishedLocked();

  const JobLimits limits_;
  mutable std::mutex mutex_;
  bool shutting_down_ = false;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::string> order_;  // ids in creation order
  std::set<std::string> expired_;
  std::deque<std::string> expired_order_;
  std::map<std::string, std::thread> workers_;  // by job id
  std::vector<std::string> finished_workers_;   // their threads have returned
};

}  // namespace flx

#endif  // FLX_HOST_JOBS_JOB_STORE_H_
