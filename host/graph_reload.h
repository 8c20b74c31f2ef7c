// A configuration reload at run time (SIGHUP): the graph a changed YAML describes, built next
// to the one serving so that nothing in flight is dropped. Stages whose entries did not change
// are shared (their models stay loaded); new or changed stages are created and, for eager
// models, loaded before the new graph serves; the server then switches to it
// (HttpServer::ReplaceGraph) and the old graph goes when its last request ends. A reload
// applies whole or not at all.
#ifndef FLX_HOST_GRAPH_RELOAD_H_
#define FLX_HOST_GRAPH_RELOAD_H_

#include <memory>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/environment.h"
#include "config/graph_config.h"
#include "stage_graph.h"
#include "status.h"

namespace flx {

// What a reload changes, by public model id and stage id.
struct ReloadSummary {
  std::vector<std::string> added_models, removed_models, changed_models, unchanged_models;
  std::vector<std::string> created_stages, kept_stages, dropped_stages;
  // One line for the log: "models added [a], removed [b], changed [c], unchanged [d]; ...".
  std::string ToString() const;
};

// Builds the graph `config` describes from `current` (StageGraph::Build with `previous`),
// starts loading what its eager models need and waits for those loads. Fails, leaving
// `current` as it was, when the config's graph cannot be built (the problems are in `diags`)
// or when a pipeline created for it fails to load (UNAVAILABLE naming the stage and why).
StatusOr<std::shared_ptr<StageGraph>> PrepareReload(const StageGraph& current,
                                                    const GraphConfig& config,
                                                    const Environment* env, Diagnostics* diags,
                                                    ReloadSummary* summary);

// The settings of `before` that differ in `after` and that a reload does not apply (the server
// section but max_loaded, logging), each as its YAML path: they need a restart.
std::vector<std::string> SettingsNeedingRestart(const GraphConfig& before,
                                                const GraphConfig& after);

// After the switch (HttpServer::ReplaceGraph): every pipeline stage of `previous` that `next`
// has no stage of the same id for reads not ready on the MODEL_READY gauge.
void ReportDroppedPipelines(const StageGraph& previous, StageGraph& next);

}  // namespace flx

#endif  // FLX_HOST_GRAPH_RELOAD_H_
