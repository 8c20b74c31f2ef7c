#include "http/http_server.h"

#include <Poco/Net/TCPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>

#include <chrono>

#include "http/handlers.h"
#include "http/http_connection.h"
#include "graph_reload.h"
#include "http/shared_job_workers.h"
#include "logging.h"

namespace flx {

ServerState::ServerState(std::shared_ptr<StageGraph> graph_in, ServerOptions options_in)
    : events(graph_in->events()),
      service(events.get(), /*hold_pipelines=*/true),
      store(options_in.output_dir),
      options(std::move(options_in)),
      started_unix(std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count()),
      logger(GetLogger("http")),
      jobs(options.jobs),
      idempotency(4 * options.jobs.max_kept),
      seed_rng_(std::random_device{}()),
      graph_(std::move(graph_in)) {
  listener_ =
      events->AddListener([this](const flx_event& event) { queue_positions.Observe(event); });
  if (graph_->job_queue() != nullptr) {
    shared_queue = std::make_unique<SharedQueue>(graph_->job_queue());
  }
}

ServerState::~ServerState() {
  jobs.Shutdown();
  DetachFromGraph();
}

void ServerState::DetachFromGraph() {
  if (listener_ < 0) return;
  events->RemoveListener(listener_);
  listener_ = -1;
}

std::shared_ptr<StageGraph> ServerState::graph() const {
  std::lock_guard<std::mutex> lock(graph_mutex_);
  return graph_;
}

void ServerState::SetGraph(std::shared_ptr<StageGraph> graph) {
  std::lock_guard<std::mutex> lock(graph_mutex_);
  graph_.swap(graph);
}

uint64_t ServerState::DrawSeed() {
  std::lock_guard<std::mutex> lock(seed_mutex_);
  return seed_rng_() & ((uint64_t(1) << 53) - 1);
}

void ServerState::Register(flx_call* call) {
  std::lock_guard<std::mutex> lock(calls_mutex_);
  calls_.insert(call);
}

void ServerState::Unregister(flx_call* call) {
  std::lock_guard<std::mutex> lock(calls_mutex_);
  calls_.erase(call);
  calls_cv_.notify_all();
}

void ServerState::CancelAll() {
  std::lock_guard<std::mutex> lock(calls_mutex_);
  for (flx_call* c : calls_) c->cancelled.store(true);
}

CallRegistration::CallRegistration(ServerState* state, flx_call* call)
    : state_(state), call_(call) {
  state_->Register(call_);
}

CallRegistration::~CallRegistration() { state_->Unregister(call_); }

bool ServerState::WaitIdle(double seconds) {
  std::unique_lock<std::mutex> lock(calls_mutex_);
  return calls_cv_.wait_for(lock, std::chrono::duration<double>(seconds),
                            [&] { return calls_.empty(); });
}

HttpServer::HttpServer(std::shared_ptr<StageGraph> graph, ServerOptions options)
    : state_(std::make_unique<ServerState>(std::move(graph), std::move(options))) {}

HttpServer::~HttpServer() {
  if (server_) Shutdown();
}

Status HttpServer::Start() {
  FLX_RETURN_IF_ERROR(state_->store.Init());
  const ServerOptions& o = state_->options;
  try {
    Poco::Net::SocketAddress address(o.host, o.port);
    socket_ = Poco::Net::ServerSocket(address, /*backlog=*/o.max_queued_connections);
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(o.threads);
    params->setMaxQueued(o.max_queued_connections);
    params->setKeepAlive(true);
    params->setMaxKeepAliveRequests(1000);
    params->setKeepAliveTimeout(Poco::Timespan(10, 0));
    // Each read; whole requests are bounded by header_timeout_s and body_timeout_s.
    params->setTimeout(Poco::Timespan(60, 0));
    params->setServerName("fluxserve");
    // A pool of our own: Poco's default pool has 16 threads, fewer than a queue can hold.
    pool_ = std::make_unique<Poco::ThreadPool>(2, o.threads + 4, 60);
    Poco::Net::HTTPRequestHandlerFactory::Ptr router(NewRouter(state_.get()));
    server_ = std::make_unique<Poco::Net::TCPServer>(
        new HttpConnectionFactory(state_.get(), params, router), *pool_, socket_, params);
    server_->start();
    port_ = socket_.address().port();
  } catch (const Poco::Exception& e) {
    return FailedPrecondition("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                              e.displayText());
  }
  state_->logger->info("listening on http://{}:{} ({} worker threads, body limit {} bytes)",
                       o.host, port_, o.threads, o.max_body_bytes);
  if (state_->shared_queue) {
    shared_workers_ =
        std::make_unique<SharedJobWorkers>(state_.get(), state_->graph(), o.queue_workers);
    shared_workers_->Start();
  }
  return Status::Ok();
}

void HttpServer::Shutdown() {
  if (!server_) return;
  state_->shutting_down.store(true);
  state_->logger->info("shutting down: refusing new requests, waiting up to {:.0f} s for those "
                       "in flight", state_->options.shutdown_grace_s);
  // Stop accepting and close the listener, so new connections are refused instead of waiting
  // in the backlog for an accept that never comes; requests already inside handlers go on.
  server_->stop();
  socket_.close();
  if (!state_->WaitIdle(state_->options.shutdown_grace_s)) {
    state_->logger->warn("grace period over: cancelling the requests still running");
    state_->jobs.CancelAll();  // background jobs end `cancelled`
    state_->CancelAll();
    if (!state_->WaitIdle(30)) {
      state_->logger->error("requests still running 30 s after cancellation; stopping anyway");
    }
  }
  // The shared queue's workers claim nothing more (shutting_down) and relay what they ran.
  if (shared_workers_) shared_workers_->Stop();
  for (auto& retired : retired_workers_) retired->Stop();
  server_.reset();
  pool_->joinAll();
  state_->jobs.Shutdown();
  // The server lets go of the graph, so its owner decides when the plugins unload.
  state_->DetachFromGraph();
  state_->SetGraph(nullptr);
  state_->logger->info("HTTP server stopped");
}

Status HttpServer::ReplaceGraph(std::shared_ptr<StageGraph> graph) {
  const std::shared_ptr<StageGraph> previous = state_->graph();
  if (previous == nullptr) return FailedPrecondition("the server is shut down");
  if (graph->job_queue() != previous->job_queue()) {
    return FailedPrecondition(
        "the job_queue stage changed (added, removed or reconfigured): the replica's shared "
        "queue is fixed while it runs; restart it to apply");
  }
  graph->TakeOverEvents();
  state_->SetGraph(graph);
  ReportDroppedPipelines(*previous, *graph);
  if (shared_workers_) {
    auto fresh = std::make_unique<SharedJobWorkers>(state_.get(), graph,
                                                    state_->options.queue_workers);
    fresh->Start();
    shared_workers_->RequestStop();
    // Workers retired by earlier reloads that have ended are joined (at once) and dropped.
    std::vector<std::unique_ptr<SharedJobWorkers>> still_running;
    for (auto& retired : retired_workers_) {
      if (!retired->Ended()) still_running.push_back(std::move(retired));
    }
    retired_workers_ = std::move(still_running);
    retired_workers_.push_back(std::move(shared_workers_));
    shared_workers_ = std::move(fresh);
  }
  return Status::Ok();
}

}  // namespace flx
