// Models loaded and unloaded at run time: StageGraph's StartLoad, Unload and Acquire (the
// declarations and their contracts are in stage_graph.h).
//
// A pipeline's readiness moves unloaded -> loading -> ready | failed, and back to unloaded
// when an admin unloads it. Every change made here happens under the stage's use_mutex and
// is followed by use_changed.notify_all(), so a generation waiting for a lazy model to load,
// or an unload waiting for the generations in use to end, wakes when its condition may hold.
#include <chrono>

#include "error.h"
#include "stage_graph.h"

namespace flx {
namespace {

using Clock = std::chrono::steady_clock;

// How often a waiting generation re-checks its cancellation and deadline.
constexpr std::chrono::milliseconds kWaitSlice{100};

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double NowUnix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Status ModelNotReady(const ModelChain& chain) {
  const StageInstance& pipeline = *chain.pipeline;
  std::string why =
      "model '" + chain.id + "' is not ready (" + ReadinessName(pipeline.readiness()) + ")";
  if (pipeline.readiness() == Readiness::kFailed) why += ": " + pipeline.readiness_message();
  if (pipeline.readiness() == Readiness::kUnloaded) {
    why += "; it loads with POST /v1/models/" + chain.id + "/load (admin)";
  }
  return Unavailable(why);
}

namespace {

// Why `call` stops waiting now, or OK.
Status WaitEnded(const flx_call& call) {
  if (call.cancelled.load()) return Status(FLX_CANCELLED, "cancelled while the model loaded");
  if (call.deadline_epoch_s > 0 && NowUnix() >= call.deadline_epoch_s) {
    return Status(FLX_DEADLINE_EXCEEDED, "the deadline passed while the model loaded");
  }
  return Status::Ok();
}

bool CanUnload(const StageInstance& pipeline) {
  const flx_pipeline_iface* iface = pipeline.pipeline();
  return FLX_HAS_FIELD(flx_pipeline_iface, iface, unload) && iface->unload != nullptr;
}

}  // namespace

PipelineLease& PipelineLease::operator=(PipelineLease&& other) noexcept {
  if (this != &other) {
    Release();
    pipeline_ = other.pipeline_;
    other.pipeline_ = nullptr;
  }
  return *this;
}

void PipelineLease::Release() {
  if (pipeline_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(pipeline_->use_mutex);
    --pipeline_->in_use;
  }
  pipeline_->use_changed.notify_all();
  pipeline_ = nullptr;
}

Status StageGraph::StartLoad(StageInstance* s) {
  std::lock_guard<std::mutex> deciding(load_decisions_mutex_);
  {
    std::lock_guard<std::mutex> lock(s->use_mutex);
    const Readiness r = s->readiness();
    if (r == Readiness::kPreparing || r == Readiness::kReady || s->unloading) return Status::Ok();
  }
  if (Status room = MakeRoomFor(*s); !room.ok()) return room;
  {
    std::lock_guard<std::mutex> lock(s->use_mutex);
    s->SetReadiness(Readiness::kPreparing, "loading", 0);
  }
  s->use_changed.notify_all();
  std::lock_guard<std::mutex> threads(prepare_threads_mutex_);
  prepare_threads_.emplace_back([this, s] { Prepare(s); });
  return Status::Ok();
}

void StageGraph::Prepare(StageInstance* s) {
  const Clock::time_point start = Clock::now();
  const Status st = ConsumeError(s->pipeline()->prepare(s->self));
  const double seconds = SecondsSince(start);
  {
    std::lock_guard<std::mutex> lock(s->use_mutex);
    s->SetReadiness(st.ok() ? Readiness::kReady : Readiness::kFailed,
                    st.ok() ? "ready" : st.ToString(), seconds);
  }
  s->use_changed.notify_all();
  if (st.ok()) {
    logger_->info("stage '{}' ready after {:.3f} s", s->id, seconds);
  } else {
    logger_->error("stage '{}' failed to prepare after {:.3f} s: {}", s->id, seconds,
                   st.ToString());
  }
  EmitModelReady(*s, st.ok());
}

bool StageGraph::Evictable(StageInstance& pipeline) const {
  for (const ModelChain* chain : ModelsOf(&pipeline)) {
    if (chain->load != ModelLoad::kLazy) return false;
  }
  std::lock_guard<std::mutex> lock(pipeline.use_mutex);
  return pipeline.readiness() == Readiness::kReady && pipeline.in_use == 0 && !pipeline.unloading &&
         CanUnload(pipeline);
}

Status StageGraph::MakeRoomFor(const StageInstance& loading) {
  if (max_loaded_ == 0) return Status::Ok();
  for (;;) {
    size_t loaded = 0;
    StageInstance* victim = nullptr;
    for (auto& stage : stages_) {
      if (stage->kind != FLX_KIND_PIPELINE || stage.get() == &loading) continue;
      const Readiness r = stage->readiness();
      if (r != Readiness::kReady && r != Readiness::kPreparing) continue;
      ++loaded;
      if (Evictable(*stage) && (victim == nullptr || stage->last_used_ns < victim->last_used_ns)) {
        victim = stage.get();
      }
    }
    if (loaded < max_loaded_) return Status::Ok();
    const std::string bound = "server.max_loaded is " + std::to_string(max_loaded_);
    if (victim == nullptr) {
      return Unavailable(bound + " and every loaded model is in use or not lazy, so '" +
                         loading.id + "' cannot load now (only idle lazy models are unloaded)");
    }
    logger_->info("unloading stage '{}', the least recently used, to load '{}' ({})", victim->id,
                  loading.id, bound);
    if (Status st = Unload(victim); !st.ok()) {
      return Unavailable(bound + "; unloading '" + victim->id + "' failed: " + st.message());
    }
  }
}

Status StageGraph::Unload(StageInstance* s) {
  if (!CanUnload(*s)) {
    return Status(FLX_UNIMPLEMENTED, "stage '" + s->id + "' cannot unload its model");
  }
  std::unique_lock<std::mutex> lock(s->use_mutex);
  if (s->readiness() == Readiness::kUnloaded) return Status::Ok();
  if (s->readiness() == Readiness::kPreparing || s->unloading) {
    return Status(FLX_FAILED_PRECONDITION,
                  "stage '" + s->id + "' is " + (s->unloading ? "unloading" : "loading"));
  }
  s->unloading = true;
  const Clock::time_point start = Clock::now();
  s->use_changed.wait(lock, [s] { return s->in_use == 0; });
  lock.unlock();
  const Status st = ConsumeError(s->pipeline()->unload(s->self));
  lock.lock();
  s->unloading = false;
  if (st.ok()) s->SetReadiness(Readiness::kUnloaded, "unloaded", 0);
  lock.unlock();
  s->use_changed.notify_all();
  if (!st.ok()) return st;
  logger_->info("stage '{}' unloaded after {:.3f} s", s->id, SecondsSince(start));
  EmitModelReady(*s, false);
  return Status::Ok();
}

StatusOr<PipelineLease> StageGraph::Acquire(const ModelChain& chain, flx_call& call) {
  StageInstance* s = chain.pipeline;
  struct WaitFlag {  // cleared however the wait ends
    std::atomic<bool>& flag;
    ~WaitFlag() { flag.store(false); }
  } waiting{call.waiting_for_model};
  std::unique_lock<std::mutex> lock(s->use_mutex);
  for (;;) {
    const Readiness r = s->readiness();
    if (r == Readiness::kReady && !s->unloading) {
      ++s->in_use;
      s->last_used_ns = Clock::now().time_since_epoch().count();
      return PipelineLease(s);
    }
    const bool waits = chain.load == ModelLoad::kLazy &&
                       (r == Readiness::kPreparing || r == Readiness::kUnloaded || s->unloading);
    if (!waits) return ModelNotReady(chain);
    call.waiting_for_model.store(true);
    if (r == Readiness::kUnloaded && !s->unloading) {
      lock.unlock();
      if (Status started = StartLoad(s); !started.ok()) return started;
      lock.lock();
      continue;
    }
    if (Status ended = WaitEnded(call); !ended.ok()) return ended;
    s->use_changed.wait_for(lock, kWaitSlice);
  }
}

void StageGraph::EmitModelReady(const StageInstance& pipeline, bool ready) {
  flx_event e{};
  e.struct_size = sizeof(e);
  e.type = FLX_EVENT_GAUGE;
  e.name = FLX_GAUGE_MODEL_READY;
  e.stage_id = pipeline.id.c_str();
  e.value = ready ? 1 : 0;
  Deliver(e);
}

}  // namespace flx
