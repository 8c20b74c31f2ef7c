// The host side of the ABI's opaque flx_config: a read-only view of one stage's `config:`
// YAML, with the location and document path of every node and tracking of which keys the
// stage looked up, so the host can warn about keys nobody read (usually typos).
//
// The Config* functions below are the flx_host_api config_* entries (same signatures) and
// follow flx.h's contract: NULL is success, an error is a new flx_error the caller frees,
// out-parameters (including `found`) are untouched on error. Errors about a node read
// "file:line:col: <path>: <what>", e.g.
//   "x.yaml:12:5: stages[1].config.max_queue: expected an integer, got 'abc'".
// Typed getters accept the spellings of config/scalar.h; a scalar may always be read as a
// string; a map, a sequence or null read as a scalar type is a type error (null is not the
// same as a missing key). Looking up a key on a NULL config reports it missing (found = 0).
// All functions are safe to call concurrently on nodes of the same tree.
#ifndef FLX_HOST_CONFIG_CONFIG_NODE_H_
#define FLX_HOST_CONFIG_CONFIG_NODE_H_

#include <flx/flx.h>
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <memory>
#include <string>

#include "config/diagnostics.h"

namespace flx {

// Owns every flx_config node of one stage's configuration; each stays valid, with every
// string it hands out, as long as the tree lives. Immutable after construction apart from
// the read marks.
class ConfigTree;

// Builds a tree mirroring `root` (a copy: later changes to the YAML are not seen). The root
// is placed at `root_location` with document path `root_path` (e.g. "stages[1].config");
// nodes below take their line and column from their YAML marks in `file`. A null or
// undefined root reads as an empty map. Keys that are not scalars are left out, and nodes
// nested deeper than kMaxNestingDepth read as null (LoadGraphConfig rejects both).
// `stage_id` names the stage in unread-key warnings. Call from one thread per YAML document:
// yaml-cpp nodes are not safe to read concurrently.
std::shared_ptr<ConfigTree> MakeConfigTree(const YAML::Node& root, SourceLocation root_location,
                                           std::string root_path, std::string file,
                                           std::string stage_id);

// The root node of `tree`, to pass to a factory's create(); lives as long as the tree.
const flx_config* ConfigTreeRoot(const ConfigTree& tree);

// Adds a warning for every map key of the tree that was never looked up (by a getter, by
// config_get_node or by config_key_at): "key 'foo' was not read by stage 'x' (misspelled?)"
// at the key's location. Keys below an unread key are not reported separately.
void ReportUnreadKeys(const ConfigTree& tree, Diagnostics* diags);

// flx_host_api.config_* implementations.
flx_error* ConfigGetString(const flx_config* config, const char* key, int* found, const char** out);
flx_error* ConfigGetInt(const flx_config* config, const char* key, int* found, int64_t* out);
flx_error* ConfigGetDouble(const flx_config* config, const char* key, int* found, double* out);
flx_error* ConfigGetBool(const flx_config* config, const char* key, int* found, int* out);
flx_error* ConfigGetNode(const flx_config* config, const char* key, int* found,
                         const flx_config** out);
// The length of a sequence; 0 for other nodes and NULL.
size_t ConfigSize(const flx_config* config);
// Element `index` of a sequence; INVALID_ARGUMENT for other nodes, OUT_OF_RANGE past the end.
flx_error* ConfigAt(const flx_config* config, size_t index, const flx_config** out);
// The number of keys of a map; 0 for other nodes and NULL.
size_t ConfigKeyCount(const flx_config* config);
// Key `index` of a map (marking it read), or NULL when out of range or not a map.
const char* ConfigKeyAt(const flx_config* config, size_t index);
// The text of a scalar; NULL for maps, sequences, null nodes and NULL.
const char* ConfigScalar(const flx_config* config);
// INVALID_ARGUMENT "file:line:col: <path>: message" for `config` (just `message` for NULL).
flx_error* ConfigError(const flx_config* config, const char* message);

}  // namespace flx

#endif  // FLX_HOST_CONFIG_CONFIG_NODE_H_
