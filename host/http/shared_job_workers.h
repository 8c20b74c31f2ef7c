// The workers that run a replica's share of the jobs in the shared queue (`job_queue:`): for
// every model this replica serves, `per_model` threads each claim a job only when they are
// free and the model is ready, run it through the model's chain as an in-process job (so
// scheduling, recovery, cancellation, previews and rendering are those of every other job),
// and relay it to the queue as it goes: its progress and cancel requests, its events, and at
// the end its result. A job cancelled by this replica's shutdown (not by its client) is left
// unfinished, so another replica takes it over after the queue's claim time; a finish the
// queue cannot take (Redis restarting) is retried.
#ifndef FLX_HOST_HTTP_SHARED_JOB_WORKERS_H_
#define FLX_HOST_HTTP_SHARED_JOB_WORKERS_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/server_state.h"
#include "jobs/job.h"
#include "jobs/shared_queue.h"

namespace flx {

class SharedJobWorkers {
 public:
  // `state` (with its shared_queue) outlives the workers; they serve the models of `graph`,
  // which they hold.
  SharedJobWorkers(ServerState* state, std::shared_ptr<StageGraph> graph, size_t per_model);
  // Stop().
  ~SharedJobWorkers();
  SharedJobWorkers(const SharedJobWorkers&) = delete;
  SharedJobWorkers& operator=(const SharedJobWorkers&) = delete;

  void Start();
  // No more claims; returns at once (a reload retires these workers: the jobs they run go on,
  // and the graph is let go when the last ends).
  void RequestStop() { stopping_.store(true); }
  // Whether every worker has ended (Stop() then returns at once).
  bool Ended() const { return running_.load() == 0; }
  // No more claims; waits for the jobs being run (and relayed) to be done. Idempotent.
  void Stop();

 private:
  void Loop(const ModelChain* chain);
  // RunClaimed, with whatever escapes it ending the job failed (500).
  void RunGuarded(const ModelChain& chain, const ClaimedJob& claimed);
  void RunClaimed(const ModelChain& chain, const ClaimedJob& claimed);
  // Relays a running job until it ends; returns whether its client (not shutdown) cancelled it.
  bool Relay(Job& job);
  // Finishes `job_id` in the queue with `snapshot`'s end, retrying while the queue is away.
  void Finish(const std::string& job_id, const JobSnapshot& snapshot);
  // Sleeps `seconds` unless Stop() comes first.
  void Pause(double seconds);

  ServerState* state_;
  std::shared_ptr<StageGraph> graph_;
  SharedQueue* queue_;
  const size_t per_model_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> running_{0};  // workers not yet ended; the last lets go of graph_
  std::mutex graph_mutex_;
  std::vector<std::thread> threads_;
  std::atomic<bool> queue_down_logged_{false};
};

}  // namespace flx

#endif  // FLX_HOST_HTTP_SHARED_JOB_WORKERS_H_
