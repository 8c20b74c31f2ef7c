// offload_executor.h — applies an OffloadPlanner's moves to the weights the networks hold,
// through the WeightRegistry each component's weights were recorded in.
//
// Offloading only means something with an accelerator: FluxPipeline on the CPU records no
// registries, so every mode is accepted there and has no effect (summary() says so for the
// startup log). The CUDA path (pinned host copies, asynchronous uploads) compiles against the
// CPU-only libtorch 1.13 but is untested here; the unit tests exercise the moves with the CPU
// standing in for the accelerator (a move there makes a copy, so the rebinding shows).
#ifndef FLX_FLUX_MODEL_OFFLOAD_EXECUTOR_H_
#define FLX_FLUX_MODEL_OFFLOAD_EXECUTOR_H_

#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "model/block_hook.h"
#include "model/offload_planner.h"
#include "model/weight_registry.h"

namespace flx::flux {

class OffloadExecutor {
 public:
  // `registries` holds, per component name of `planner`, the registry its weights were
  // recorded in, or is empty: then nothing ever moves. Throws std::invalid_argument naming a
  // component without one when some are given and the mode is not none.
  OffloadExecutor(OffloadPlanner planner, c10::Device accelerator,
                  std::map<std::string, std::shared_ptr<WeightRegistry>> registries);

  // True when weights move at all: a mode other than none, with registries.
  bool active() const { return active_; }
  // For the startup log: "offload none: every component on cpu" on the CPU, "offload model
  // has no effect on cpu" for an inactive mode, else the planner's description.
  std::string summary() const;

  // Applies the planner's moves for `event` (nothing when inactive).
  void on(const OffloadEvent& event);
  // A hook that reports `component`'s blocks to on(); empty when no block ever moves, so the
  // networks skip the calls.
  BlockHook block_hook(const std::string& component);

  // Bytes moved to the accelerator so far (uploads), for tests and logs.
  int64_t uploaded_bytes() const { return uploaded_bytes_; }

  // kComponentStart when made, kComponentEnd when destroyed (also when unwinding).
  class ComponentRun {
   public:
    ComponentRun(OffloadExecutor& executor, std::string component);
    ~ComponentRun();
    ComponentRun(const ComponentRun&) = delete;
    ComponentRun& operator=(const ComponentRun&) = delete;

   private:
    OffloadExecutor& executor_;
    std::string component_;
  };

 private:
  void apply(const OffloadMove& move);

  OffloadPlanner planner_;
  c10::Device accelerator_;
  bool active_;
  std::map<std::string, std::shared_ptr<WeightRegistry>> registries_;
  int64_t uploaded_bytes_ = 0;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_OFFLOAD_EXECUTOR_H_
