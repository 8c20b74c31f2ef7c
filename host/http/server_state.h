// What every HTTP handler shares: the stage graph, the generation service, the output store,
// the options, and the registry of requests in flight (for graceful shutdown).
#ifndef FLX_HOST_HTTP_SERVER_STATE_H_
#define FLX_HOST_HTTP_SERVER_STATE_H_

#include <spdlog/logger.h>

#include <atomic>
#include <memory>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "generation_service.h"
#include "host_api.h"
#include "http/read_deadlines.h"
#include "jobs/idempotency_keys.h"
#include "jobs/job_store.h"
#include "jobs/queue_positions.h"
#include "jobs/run_times.h"
#include "jobs/shared_queue.h"
#include "output_store.h"
#include "stage_graph.h"

namespace flx {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0 = any free port
  uint64_t max_body_bytes = 1048576;
  uint64_t max_upload_bytes = 52428800;  // POST /v1/images/edits: images and mask
  int threads = 64;
  int max_queued_connections = 256;
  double shutdown_grace_s = 30;
  double header_timeout_s = 10;  // request line + headers, whole
  double body_timeout_s = 30;    // request body, whole
  std::string output_dir = "./outputs";
  std::string public_base_url;        // "" = http://<Host header>
  std::vector<std::string> api_keys;  // non-empty: /v1/ routes need "Authorization: Bearer KEY"
  std::vector<std::string> admin_keys;  // the admin routes' keys; empty: they answer 403
  JobLimits jobs;                     // background jobs (server.job_ttl_s, max_*_jobs)
  double request_timeout_s = 0;       // deadline of requests without timeout_s; 0 = none
  size_t queue_workers = 1;           // with a job_queue: jobs run at once per model

  // The deadline (Unix seconds) of a request arriving now with `timeout_s` (0 = the
  // server's); 0 for none.
  double DeadlineFor(double timeout_s, double now_unix) const {
    const double seconds = timeout_s > 0 ? timeout_s : request_timeout_s;
    return seconds > 0 ? now_unix + seconds : 0;
  }
};

class ServerState;

// Registers a call with the server for as long as it lives, so that shutdown waits for it
// (and cancels it after the grace period).
class CallRegistration {
 public:
  CallRegistration(ServerState* state, flx_call* call);
  ~CallRegistration();
  CallRegistration(const CallRegistration&) = delete;
  CallRegistration& operator=(const CallRegistration&) = delete;

 private:
  ServerState* state_;
  flx_call* call_;
};

class ServerState {
 public:
  ServerState(std::shared_ptr<StageGraph> graph, ServerOptions options);
  ~ServerState();
  // Stops feeding queue_positions from the graphs' events; idempotent.
  void DetachFromGraph();

  // The graph serving now. A request takes it once and uses that copy to its end (a job keeps
  // its chain's graph), so a reload never changes the graph under a request in flight.
  std::shared_ptr<StageGraph> graph() const;
  // New requests get `graph` from now on (a reload); the previous one lives on while the
  // requests and jobs that hold it run. Also drops the server's reference (shutdown: nullptr).
  void SetGraph(std::shared_ptr<StageGraph> graph);

  // The event hub every graph of this server shares (StageGraph::events()).
  const std::shared_ptr<EventHub> events;
  GenerationService service;
  OutputStore store;
  ServerOptions options;
  int64_t started_unix;
  std::shared_ptr<spdlog::logger> logger;
  std::atomic<bool> shutting_down{false};
  // Whole-message read deadlines of every connection (header_timeout_s, body_timeout_s).
  ReadDeadlines deadlines;
  // Background jobs; where every waiting request stands in its scheduler's queue (fed by the
  // graph's events while the server lives); the measured run times behind eta_seconds.
  JobStore jobs;
  QueuePositions queue_positions;
  RunTimes run_times;
  IdempotencyKeys idempotency;  // Idempotency-Key -> job
  // The graph's job_queue (jobs shared by replicas), or null: jobs stay in this process.
  std::unique_ptr<SharedQueue> shared_queue;

  // A fresh seed for requests that give none: below 2^53 so every JSON client reads it exactly.
  uint64_t DrawSeed();
  // A process-unique suffix for output file names.
  uint64_t NextImageNumber() { return image_counter_.fetch_add(1) + 1; }

  // Calls in flight: registered while a generation runs so shutdown can cancel them.
  void Register(flx_call* call);
  void Unregister(flx_call* call);
  void CancelAll();
  // Waits until no call is registered or `seconds` pass; true when none is left.
  bool WaitIdle(double seconds);

 private:
  std::mutex seed_mutex_;
  std::mt19937_64 seed_rng_;
  std::atomic<uint64_t> image_counter_{0};
  std::mutex calls_mutex_;
  std::condition_variable calls_cv_;
  std::set<flx_call*> calls_;
  mutable std::mutex graph_mutex_;
  std::shared_ptr<StageGraph> graph_;
  int listener_ = -1;  // the hub listener feeding queue_positions
};

}  // namespace flx

#endif  // FLX_HOST_HTTP_SERVER_STATE_H_
