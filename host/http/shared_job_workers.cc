#include "http/shared_job_workers.h"

#include <chrono>
#include <utility>

#include "http/event_stream.h"
#include "http/generation_jobs.h"
#include "http/generation_request.h"
#include "http/shared_jobs.h"
#include "jobs/shared_job_record.h"

namespace flx {
namespace {

constexpr uint32_t kClaimWaitMs = 1000;    // one claim's wait: how soon a stop is noticed
constexpr double kRelayPollS = 0.2;        // how often a running job's events are relayed
constexpr double kHeartbeatS = 1.0;        // progress (and aliveness) at least this often
constexpr int kFinishTriesAfterStop = 30;  // seconds a stopping worker keeps trying to finish

// The end of a job that never ran: `error` as its result.
JobSnapshot EndedWith(const ApiError& error, JobStatus status) {
  JobSnapshot s;
  s.status = status;
  s.finished_at = UnixNow();
  s.error_status = error.http_status;
  s.error_json = error.ToJson();
  return s;
}

ApiError CancelledBeforeStart() {
  return ServerError(499, "cancelled", "the job was cancelled before it started");
}

ApiError DeadlinePassed() {
  return ServerError(504, "deadline_exceeded",
                     "the job's deadline (timeout_s) passed while it waited in the shared queue");
}

}  // namespace

SharedJobWorkers::SharedJobWorkers(ServerState* state, std::shared_ptr<StageGraph> graph,
                                   size_t per_model)
    : state_(state),
      graph_(std::move(graph)),
      queue_(state->shared_queue.get()),
      per_model_(per_model) {}

SharedJobWorkers::~SharedJobWorkers() { Stop(); }

void SharedJobWorkers::Start() {
  const std::shared_ptr<StageGraph> graph = graph_;  // workers may end (and let go) at once
  running_.store(graph->models().size() * per_model_);
  for (const ModelChain& chain : graph->models()) {
    for (size_t i = 0; i < per_model_; ++i) {
      threads_.emplace_back([this, &chain] {
        Loop(&chain);
        std::lock_guard<std::mutex> lock(graph_mutex_);
        if (running_.fetch_sub(1) == 1) graph_.reset();  // the chains are no longer used
      });
    }
  }
  state_->logger->info("shared job queue '{}' {}: {} worker(s) for each of {} model(s)",
                       queue_->stage_id(), queue_->Describe(), per_model_, graph->models().size());
}

void SharedJobWorkers::Stop() {
  stopping_.store(true);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void SharedJobWorkers::Pause(double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!stopping_.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void SharedJobWorkers::Loop(const ModelChain* chain) {
  while (!stopping_.load() && !state_->shutting_down.load()) {
    // Claim nothing this replica cannot run yet; a lazy model that is not loaded can: the
    // job's generation loads it.
    const Readiness readiness = chain->pipeline->readiness();
    const bool loads_on_demand =
        chain->load == ModelLoad::kLazy && readiness == Readiness::kUnloaded;
    if (readiness != Readiness::kReady && !loads_on_demand) {
      Pause(0.2);
      continue;
    }
    StatusOr<std::optional<ClaimedJob>> claimed = queue_->Claim(chain->id, kClaimWaitMs);
    if (!claimed.ok()) {
      if (!queue_down_logged_.exchange(true)) {
        state_->logger->warn("shared job queue: cannot claim jobs: {}", claimed.status().message());
      }
      Pause(1);
      continue;
    }
    if (queue_down_logged_.exchange(false))
      state_->logger->info("shared job queue: reachable again");
    if (*claimed) RunGuarded(*chain, **claimed);
  }
}

void SharedJobWorkers::RunGuarded(const ModelChain& chain, const ClaimedJob& claimed) {
  // A worker thread must not die of one job: what escapes ends that job failed.
  try {
    RunClaimed(chain, claimed);
  } catch (const std::exception& e) {
    state_->logger->error("job {}: {}", claimed.job_id, e.what());
    Finish(claimed.job_id,
           EndedWith(ServerError(500, "internal_error", std::string("internal error: ") + e.what()),
                     JobStatus::kFailed));
  }
}

void SharedJobWorkers::RunClaimed(const ModelChain& chain, const ClaimedJob& claimed) {
  const std::string& id = claimed.job_id;
  state_->logger->info("job {} claimed for model {} (delivery {})", id, chain.id,
                       claimed.deliveries);
  std::optional<SharedJobPayload> payload = DecodePayload(claimed.payload);
  auto parsed = payload ? RequestOfPayload(*payload)
                        : std::variant<ImagesRequest, ApiError>(
                              BadRequest("the job's payload is not one this server reads", "body"));
  if (auto* error = std::get_if<ApiError>(&parsed)) {
    return Finish(id, EndedWith(*error, JobStatus::kFailed));
  }
  ImagesRequest& request = std::get<ImagesRequest>(parsed);
  // Cancelled first: a front whose deadline passed cancels the job it gave up on.
  StatusOr<bool> cancel = queue_->Update(id, {});
  if (cancel.ok() && *cancel) {
    return Finish(id, EndedWith(CancelledBeforeStart(), JobStatus::kCancelled));
  }
  if (payload->deadline > 0) {
    request.timeout_s = payload->deadline - UnixNow();
    if (request.timeout_s <= 0) return Finish(id, EndedWith(DeadlinePassed(), JobStatus::kFailed));
  }
  ImageStorage storage;
  storage.store = &state_->store;
  storage.base_url =
      state_->options.public_base_url.empty() ? payload->base_url : state_->options.public_base_url;
  storage.next_number = [state = state_] { return state->NextImageNumber(); };
  auto submitted = SubmitGenerationJob(state_, chain, request, storage, id);
  if (auto* error = std::get_if<ApiError>(&submitted)) {
    return Finish(id, EndedWith(*error, JobStatus::kFailed));
  }
  Job& job = *std::get<std::shared_ptr<Job>>(submitted);
  const bool cancelled_by_client = Relay(job);
  const JobSnapshot end = job.Snapshot();
  if (end.status == JobStatus::kCancelled && !cancelled_by_client && state_->shutting_down.load()) {
    state_->logger->warn(
        "job {} stopped by this replica's shutdown: left in the queue for "
        "another replica",
        id);
    return;
  }
  for (const FeedEvent& event : FinalEvents(*state_, job)) {
    queue_->AppendEvent(id, event.name, event.data);  // best effort: the record has the result
  }
  Finish(id, end);
}

bool SharedJobWorkers::Relay(Job& job) {
  bool cancel_requested = false;
  size_t next = 0;
  auto last_update = std::chrono::steady_clock::now() - std::chrono::hours(1);
  uint32_t last_step = UINT32_MAX;
  for (;;) {
    std::vector<FeedEvent> events;
    const bool ended = job.ReadFeed(next, &events, kRelayPollS);
    next += events.size();
    for (const FeedEvent& event : events) queue_->AppendEvent(job.id(), event.name, event.data);
    if (ended) return cancel_requested;
    const JobSnapshot now = job.Snapshot(false);
    const std::chrono::duration<double> since = std::chrono::steady_clock::now() - last_update;
    if (now.step == last_step && since.count() < kHeartbeatS) continue;
    StatusOr<bool> cancel = queue_->Update(job.id(), ProgressRecord(now));
    last_update = std::chrono::steady_clock::now();
    last_step = now.step;
    if (cancel.ok() && *cancel && !cancel_requested) {
      cancel_requested = true;
      job.RequestCancel();
    }
  }
}

void SharedJobWorkers::Finish(const std::string& job_id, const JobSnapshot& snapshot) {
  const QueueFields fields = FinalRecord(snapshot);
  int tries_after_stop = 0;
  for (;;) {
    const Status status = queue_->Finish(job_id, fields);
    if (status.ok()) {
      state_->logger->info("job {} finished {}", job_id, JobStatusName(snapshot.status));
      return;
    }
    if (stopping_.load() && ++tries_after_stop > kFinishTriesAfterStop) {
      state_->logger->error(
          "job {}: the queue did not take its result ({}); another replica "
          "will run it again after the claim time",
          job_id, status.message());
      return;
    }
    state_->logger->warn("job {}: cannot finish it yet ({}); retrying", job_id, status.message());
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace flx
