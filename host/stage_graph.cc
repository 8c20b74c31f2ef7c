#include "stage_graph.h"

#include <yaml-cpp/yaml.h>

#include <chrono>

#include "config/env_overrides.h"
#include "error.h"
#include "logging.h"

namespace flx {

const char* ReadinessName(Readiness r) {
  switch (r) {
    case Readiness::kCreated:
      return "created";
    case Readiness::kPreparing:
      return "loading";
    case Readiness::kReady:
      return "ready";
    case Readiness::kFailed:
      return "failed";
    case Readiness::kUnloaded:
      return "unloaded";
  }
  return "unknown";
}

StageInstance::~StageInstance() {
  if (factory != nullptr && self != nullptr) factory->destroy(self);
  self = nullptr;
}

const flx_scheduler_iface* StageInstance::scheduler() const {
  return kind == FLX_KIND_SCHEDULER ? static_cast<const flx_scheduler_iface*>(factory->iface)
                                    : nullptr;
}
const flx_pipeline_iface* StageInstance::pipeline() const {
  return kind == FLX_KIND_PIPELINE ? static_cast<const flx_pipeline_iface*>(factory->iface)
                                   : nullptr;
}
const flx_recovery_iface* StageInstance::recovery() const {
  return kind == FLX_KIND_RECOVERY ? static_cast<const flx_recovery_iface*>(factory->iface)
                                   : nullptr;
}
const flx_metrics_iface* StageInstance::metrics() const {
  return kind == FLX_KIND_METRICS ? static_cast<const flx_metrics_iface*>(factory->iface) : nullptr;
}
const flx_queue_iface* StageInstance::queue() const {
  return kind == FLX_KIND_QUEUE ? static_cast<const flx_queue_iface*>(factory->iface) : nullptr;
}

std::string StageInstance::readiness_message() const {
  std::lock_guard<std::mutex> lock(message_mutex_);
  return readiness_message_;
}

void StageInstance::SetReadiness(Readiness r, std::string message, double seconds) {
  {
    std::lock_guard<std::mutex> lock(message_mutex_);
    readiness_message_ = std::move(message);
  }
  prepare_seconds_.store(seconds);
  readiness_.store(r);
}

StageGraph::~StageGraph() {
  WaitPrepared();
  // Chains first (a scheduler wakes its waiters), observers last so they see every event. A
  // stage another graph shares (a reload kept it) lives on there.
  for (auto it = stages_.rbegin(); it != stages_.rend(); ++it) {
    if ((*it)->kind != FLX_KIND_METRICS) it->reset();
  }
  observers_.clear();
  stages_.clear();
}

namespace {

// What makes two stage entries the same stage: a reload keeps an instance only when this is
// unchanged (the config file matters too: relative paths in a config are resolved against it).
std::string StageFingerprint(const StageConfig& sc, const PluginLibrary& library,
                             const std::string& config_file) {
  YAML::Emitter config;
  config << sc.config;
  return std::to_string(int(sc.kind)) + "\n" + library.path() + "\n" + sc.type + "\n" +
         config_file + "\n" + config.c_str();
}

}  // namespace

StatusOr<std::unique_ptr<StageGraph>> StageGraph::Build(const GraphConfig& config, bool dry_run,
                                                        Diagnostics* diags, const Environment* env,
                                                        const StageGraph* previous) {
  std::unique_ptr<StageGraph> graph(new StageGraph);
  graph->logger_ = GetLogger("host");
  graph->events_ = previous != nullptr ? previous->events_ : std::make_shared<EventHub>();
  PluginLoader loader(config.plugin_paths);
  for (StageConfig sc : config.stages) {
    std::shared_ptr<StageInstance> stage =
        graph->CreateStage(config, loader, env, dry_run, diags, &sc, previous);
    if (stage) graph->stages_.push_back(std::move(stage));
  }
  if (diags->has_errors()) return InvalidArgument(diags->ToString());
  graph->WireModels(config);
  graph->max_loaded_ = static_cast<size_t>(config.server.max_loaded);
  if (previous == nullptr) graph->TakeOverEvents();
  return graph;
}

std::shared_ptr<StageInstance> StageGraph::CreateStage(const GraphConfig& config,
                                                       PluginLoader& loader, const Environment* env,
                                                       bool dry_run, Diagnostics* diags,
                                                       StageConfig* sc,
                                                       const StageGraph* previous) {
  auto fail = [&](const Status& s) {
    diags->Error(sc->location, sc->path, "stage '" + sc->id + "': " + s.message());
    return nullptr;
  };
  auto lib = loader.Load(sc->library);
  if (!lib.ok()) return fail(lib.status());
  auto factory = (*lib)->FindFactory(sc->kind, sc->type);
  if (!factory.ok()) return fail(factory.status());
  if (env != nullptr) ApplyEnvironment(*env, **factory, sc);
  std::string fingerprint = StageFingerprint(*sc, **lib, config.file);
  if (previous != nullptr) {
    for (const auto& old : previous->stages_) {
      if (old->id == sc->id && old->fingerprint == fingerprint) {
        kept_.push_back(old.get());
        return old;
      }
    }
  }
  auto stage = std::make_shared<StageInstance>();
  stage->id = sc->id;
  stage->kind = sc->kind;
  stage->type = sc->type;
  stage->library = *lib;
  stage->factory = *factory;
  stage->fingerprint = std::move(fingerprint);
  stage->host.stage_id = sc->id;
  stage->host.logger = GetLogger(sc->id);
  stage->host.sink = events_.get();
  stage->config =
      MakeConfigTree(sc->config, sc->config_location, sc->path + ".config", config.file, sc->id);
  void* self = nullptr;
  Status created = ConsumeError(stage->factory->create(&stage->host, ConfigTreeRoot(*stage->config),
                                                       dry_run ? FLX_CREATE_DRY_RUN : 0, &self));
  if (!created.ok()) {
    diags->Error(sc->location, sc->path,
                 "stage '" + sc->id + "' (" + sc->library + ", type " + sc->type +
                     "): create failed: " + CodeName(created.code()) + ": " + created.message());
    return nullptr;
  }
  stage->self = self;
  ReportUnreadKeys(*stage->config, diags);
  return stage;
}

StageInstance* StageGraph::FindStage(const std::string& id) const {
  for (const auto& s : stages_) {
    if (s->id == id) return s.get();
  }
  return nullptr;
}

bool StageGraph::Kept(const StageInstance* stage) const {
  for (const StageInstance* k : kept_) {
    if (k == stage) return true;
  }
  return false;
}

void StageGraph::TakeOverEvents() {
  EventHub::Observers observers;
  for (const StageInstance* o : observers_) {
    for (const auto& s : stages_) {
      if (s.get() == o) observers.push_back(s);
    }
  }
  events_->SetObservers(std::move(observers));
}

void StageGraph::WireModels(const GraphConfig& config) {
  auto find = [&](const std::string& id) { return FindStage(id); };
  for (const ModelRoute& route : config.models) {
    ModelChain chain;
    chain.graph = this;
    chain.id = route.id;
    chain.load = route.load;
    for (const std::string& id : route.chain) {
      StageInstance* s = find(id);
      // The config layer has validated references and chain shape already.
      switch (s->kind) {
        case FLX_KIND_SCHEDULER:
          chain.scheduler = s;
          break;
        case FLX_KIND_RECOVERY:
          chain.recoveries.push_back(s);
          break;
        case FLX_KIND_PIPELINE:
          chain.pipeline = s;
          break;
        case FLX_KIND_METRICS:
        case FLX_KIND_QUEUE:
        case FLX_KIND_RANGE_:
          break;
      }
    }
    models_.push_back(std::move(chain));
  }
  for (const std::string& id : config.observers) observers_.push_back(find(id));
  if (!config.job_queue.empty()) job_queue_ = find(config.job_queue);
}

void StageGraph::ApplyEnvironment(const Environment& env, const flx_factory& factory,
                                  StageConfig* stage) {
  // The loader checked the declarations already.
  StatusOr<std::vector<DeclaredSetting>> declared = ReadDeclaredSettings(factory, stage->library);
  if (!declared.ok()) return;
  for (std::string& line : ApplyEnvOverrides(env, *declared, stage)) {
    logger_->info("{}", line);
    env_overrides_.push_back(std::move(line));
  }
}

const ModelChain* StageGraph::FindModel(const std::string& id) const {
  for (const auto& m : models_) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

void StageGraph::StartPrepare() {
  for (auto& stage : stages_) {
    if (stage->kind != FLX_KIND_PIPELINE) continue;
    bool eager = false;
    for (const ModelChain* chain : ModelsOf(stage.get())) {
      eager = eager || chain->load == ModelLoad::kEager;
    }
    const Readiness r = stage->readiness();
    if (eager && r != Readiness::kReady && r != Readiness::kPreparing) {
      if (Status started = StartLoad(stage.get()); !started.ok()) {
        stage->SetReadiness(Readiness::kFailed, started.message(), 0);
        logger_->error("stage '{}' cannot load: {}", stage->id, started.message());
      }
    } else if (!eager && r == Readiness::kCreated) {
      stage->SetReadiness(Readiness::kUnloaded, "not loaded yet", 0);
    }
  }
}

std::vector<const ModelChain*> StageGraph::ModelsOf(const StageInstance* pipeline) const {
  std::vector<const ModelChain*> chains;
  for (const ModelChain& chain : models_) {
    if (chain.pipeline == pipeline) chains.push_back(&chain);
  }
  return chains;
}

void StageGraph::WaitPrepared() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(prepare_threads_mutex_);
    threads.swap(prepare_threads_);
  }
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
}

bool StageGraph::Ready(std::string* why) const {
  for (const auto& m : models_) {
    // Lazy and manual models load when asked; an unloaded model was unloaded on purpose.
    if (m.load != ModelLoad::kEager) continue;
    Readiness r = m.pipeline->readiness();
    if (r == Readiness::kUnloaded) continue;
    if (r != Readiness::kReady) {
      if (why) {
        *why = "model '" + m.id + "' is " + ReadinessName(r);
        if (r == Readiness::kFailed) *why += ": " + m.pipeline->readiness_message();
      }
      return false;
    }
  }
  return true;
}

void StageGraph::Deliver(const flx_event& event) { events_->Deliver(event); }

int StageGraph::AddEventListener(std::function<void(const flx_event&)> listener) {
  return events_->AddListener(std::move(listener));
}

void StageGraph::RemoveEventListener(int handle) { events_->RemoveListener(handle); }

}  // namespace flx
