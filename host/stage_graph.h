// The running stage graph: plugin instances created from a validated GraphConfig, the chains
// that serve each model, readiness of every pipeline, and the fan-out of events to observers.
#ifndef FLX_HOST_STAGE_GRAPH_H_
#define FLX_HOST_STAGE_GRAPH_H_

#include <flx/flx.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config_node.h"
#include "config/diagnostics.h"
#include "config/environment.h"
#include "config/graph_config.h"
#include "event_hub.h"
#include "host_api.h"
#include "plugin_loader.h"
#include "status.h"

namespace flx {

// Where a pipeline is in its life: created -> preparing -> ready | failed; a model that is not
// loaded (load: lazy or manual, or unloaded by an admin) is unloaded, and preparing again when
// it loads (model_loading.cc).
enum class Readiness { kCreated, kPreparing, kReady, kFailed, kUnloaded };
const char* ReadinessName(Readiness r);

// One plugin instance. Destroying it calls the factory's destroy() and then drops the
// library reference (which may unload it).
class StageInstance {
 public:
  StageInstance() = default;
  ~StageInstance();
  StageInstance(const StageInstance&) = delete;
  StageInstance& operator=(const StageInstance&) = delete;

  std::string id;
  flx_kind kind = FLX_KIND_PIPELINE;
  std::string type;
  std::shared_ptr<PluginLibrary> library;
  const flx_factory* factory = nullptr;
  void* self = nullptr;
  flx_host host;
  std::shared_ptr<ConfigTree> config;
  // What the stage was made from (library, type, config after the environment, config file):
  // a reload keeps the instance when its new entry has the same (StageGraph::Build).
  std::string fingerprint;

  bool threadsafe() const { return (factory->flags & FLX_FLAG_THREADSAFE) != 0; }
  const flx_scheduler_iface* scheduler() const;
  const flx_pipeline_iface* pipeline() const;
  const flx_recovery_iface* recovery() const;
  const flx_metrics_iface* metrics() const;
  const flx_queue_iface* queue() const;

  // Serialises generate() for pipelines that are not thread-safe, whatever the scheduler does.
  std::mutex generate_mutex;

  // Pipelines: the generations using the stage now and whether an unload waits for them to
  // end (model_loading.cc). Guarded by use_mutex; use_changed is notified on every change and
  // on every readiness change made there.
  std::mutex use_mutex;
  std::condition_variable use_changed;
  int in_use = 0;
  bool unloading = false;
  std::atomic<int64_t> last_used_ns{0};  // when a generation last took it (steady clock)

  // Pipelines only.
  Readiness readiness() const { return readiness_.load(); }
  std::string readiness_message() const;
  double prepare_seconds() const { return prepare_seconds_.load(); }
  void SetReadiness(Readiness r, std::string message, double seconds);

 private:
  std::atomic<Readiness> readiness_{Readiness::kCreated};
  std::atomic<double> prepare_seconds_{0};
  mutable std::mutex message_mutex_;
  std::string readiness_message_;
};

class StageGraph;

// The stages one public model id runs through.
struct ModelChain {
  StageGraph* graph = nullptr;  // the graph it belongs to
  std::string id;
  ModelLoad load = ModelLoad::kEager;
  StageInstance* scheduler = nullptr;      // optional, first
  std::vector<StageInstance*> recoveries;  // consulted in order after a failed try
  StageInstance* pipeline = nullptr;       // required, last
};

// UNAVAILABLE naming `chain`'s model and why its pipeline is not ready (with how to load an
// unloaded one).
Status ModelNotReady(const ModelChain& chain);

// One generation's use of a ready pipeline: while it lives the pipeline is not unloaded.
class PipelineLease {
 public:
  PipelineLease() = default;
  explicit PipelineLease(StageInstance* pipeline) : pipeline_(pipeline) {}
  PipelineLease(PipelineLease&& other) noexcept : pipeline_(other.pipeline_) {
    other.pipeline_ = nullptr;
  }
  PipelineLease& operator=(PipelineLease&& other) noexcept;
  PipelineLease(const PipelineLease&) = delete;
  PipelineLease& operator=(const PipelineLease&) = delete;
  ~PipelineLease() { Release(); }

 private:
  void Release();
  StageInstance* pipeline_ = nullptr;
};

// A graph served over HTTP is owned by a std::shared_ptr (a reload replaces it while requests
// and jobs still hold the one they started with: shared_from_this()).
class StageGraph : public EventSink, public std::enable_shared_from_this<StageGraph> {
 public:
  ~StageGraph() override;

  // Loads every plugin and creates every stage. Problems go to `diags` located at the stage
  // that caused them (all stages are attempted); the graph is returned only when there are
  // none. With `dry_run`, stages are created with FLX_CREATE_DRY_RUN (nothing heavy loads).
  // With `env`, the variables each factory declares override its stages' config keys
  // (env_overrides.h), each override logged at info and listed in env_overrides().
  //
  // A reload passes the graph serving now as `previous`: each stage whose entry is unchanged
  // (same id, kind, library, type and config, StageInstance::fingerprint) is shared with it
  // instead of created again, keeping its loaded model and its state; the rest are created.
  // The new graph shares `previous`'s event hub but its observers take over only at
  // TakeOverEvents().
  static StatusOr<std::unique_ptr<StageGraph>> Build(const GraphConfig& config, bool dry_run,
                                                     Diagnostics* diags,
                                                     const Environment* env = nullptr,
                                                     const StageGraph* previous = nullptr);

  const std::vector<ModelChain>& models() const { return models_; }
  // NULL when `id` is not a configured model.
  const ModelChain* FindModel(const std::string& id) const;
  const std::vector<std::shared_ptr<StageInstance>>& stages() const { return stages_; }
  const std::vector<StageInstance*>& observers() const { return observers_; }
  // The stage with `id`, or nullptr.
  StageInstance* FindStage(const std::string& id) const;
  // Whether `stage` was shared from the previous graph by Build (not created for this one).
  bool Kept(const StageInstance* stage) const;
  // This graph's observers receive every stage's events from now on (a reloaded graph that
  // starts serving; Build without `previous` does it itself).
  void TakeOverEvents();
  // The stage named by `job_queue:` (jobs shared by replicas), or nullptr: jobs in process.
  StageInstance* job_queue() const { return job_queue_; }

  // Starts prepare() on background threads of every pipeline an eager model uses that is not
  // loaded or loading (after a reload: created for this graph, or kept but unloaded or failed)
  // and returns at once; a lazy or manual model's pipeline that never loaded reads unloaded.
  void StartPrepare();
  // Blocks until every prepare() this graph started (StartPrepare, StartLoad) has finished.
  void WaitPrepared();
  // True when the pipeline of every eager model is ready (lazy and manual models load when
  // asked); otherwise `why` names the first that is not.
  bool Ready(std::string* why) const;

  // Models at run time (model_loading.cc). StartLoad begins prepare() of `pipeline` on a
  // thread unless it is loading or ready (then OK at once). With server.max_loaded reached it
  // first unloads the least recently used idle pipeline whose models are all lazy;
  // UNAVAILABLE when there is none.
  Status StartLoad(StageInstance* pipeline);
  // Gives back what `pipeline` loaded (flx_pipeline_iface.unload) once the generations using
  // it have ended; generations that arrive meanwhile wait (lazy models, which then load it
  // again) or are refused. UNIMPLEMENTED when the pipeline cannot unload, FAILED_PRECONDITION
  // while it is loading.
  Status Unload(StageInstance* pipeline);
  // For one generation of `chain`: a lease on its pipeline once it is ready. A lazy model's
  // pipeline is loaded first when it is not (the caller waits); otherwise a pipeline that is
  // not ready is UNAVAILABLE naming why. CANCELLED / DEADLINE_EXCEEDED when `call` ends the
  // wait. call.waiting_for_model is true while it waits.
  StatusOr<PipelineLease> Acquire(const ModelChain& chain, flx_call& call);
  // The models whose chain ends in `pipeline`.
  std::vector<const ModelChain*> ModelsOf(const StageInstance* pipeline) const;
  // The MODEL_READY gauge of `pipeline` to every observer (also for one a reload dropped).
  void EmitModelReady(const StageInstance& pipeline, bool ready);
  // The hub every stage of this graph (and of the graphs reloads make from it) emits to.
  const std::shared_ptr<EventHub>& events() const { return events_; }
  // The environment overrides Build applied, one line each.
  const std::vector<std::string>& env_overrides() const { return env_overrides_; }

  // EventSink: forwards to the event hub (the serving graph's observers, then every listener).
  void Deliver(const flx_event& event) override;
  // A host-side listener for every event (the CLI's progress bar, the server's queue
  // positions); returns its handle for RemoveEventListener. Thread-safe. A listener runs on
  // the emitting thread, maybe with a scheduler's lock held: it must be cheap and must not
  // call into a stage.
  int AddEventListener(std::function<void(const flx_event&)> listener);
  void RemoveEventListener(int handle);

 private:
  StageGraph() = default;
  // Build's steps: one stage loaded and created (nullptr after reporting why to `diags`),
  // then the model chains and observers wired from the created stages.
  // The stage of `previous` with the same id and fingerprint is returned as is (kept).
  std::shared_ptr<StageInstance> CreateStage(const GraphConfig& config, PluginLoader& loader,
                                             const Environment* env, bool dry_run,
                                             Diagnostics* diags, StageConfig* sc,
                                             const StageGraph* previous);
  void WireModels(const GraphConfig& config);
  // Applies the variables `factory` declares to `stage`'s config (Build with an env).
  void ApplyEnvironment(const Environment& env, const flx_factory& factory, StageConfig* stage);
  std::vector<std::shared_ptr<StageInstance>> stages_;  // in config order
  std::vector<const StageInstance*> kept_;              // shared from the previous graph
  std::vector<ModelChain> models_;
  std::vector<StageInstance*> observers_;
  StageInstance* job_queue_ = nullptr;
  // StartLoad's thread: prepare() and the readiness it leads to.
  void Prepare(StageInstance* pipeline);
  // Unloads least recently used idle lazy pipelines until `loading` fits under max_loaded_.
  Status MakeRoomFor(const StageInstance& loading);
  bool Evictable(StageInstance& pipeline) const;
  size_t max_loaded_ = 0;              // server.max_loaded; 0 = no bound
  std::mutex load_decisions_mutex_;    // one StartLoad decides (and evicts) at a time
  std::mutex prepare_threads_mutex_;  // StartLoad runs from request threads too
  std::vector<std::thread> prepare_threads_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<EventHub> events_;
  std::vector<std::string> env_overrides_;
};

}  // namespace flx

#endif  // FLX_HOST_STAGE_GRAPH_H_
