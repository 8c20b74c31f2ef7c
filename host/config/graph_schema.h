// The fluxserve schema for a prepared (interpolated) configuration document: which keys
// each section has, their types and ranges, stage definitions, model chains and observers.
#ifndef FLX_HOST_CONFIG_GRAPH_SCHEMA_H_
#define FLX_HOST_CONFIG_GRAPH_SCHEMA_H_

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

#include "config/diagnostics.h"
#include "config/graph_config.h"

namespace flx {

// Checks `root` (a map) against the schema and fills `config` with what it says; every
// problem goes to `diags` at its node in config->file. `config->file` and
// `config->base_dir` must be set. Nodes whose document path is in `skip_paths` (failed
// expansions, already reported) are treated as absent-and-reported, not checked again.
// On errors `config` is partly filled and must not be used.
void ValidateGraph(const YAML::Node& root, const std::set<std::string>& skip_paths,
                   GraphConfig* config, Diagnostics* diags);

}  // namespace flx

#endif  // FLX_HOST_CONFIG_GRAPH_SCHEMA_H_
