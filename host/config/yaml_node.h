// Small helpers for talking about yaml-cpp nodes in diagnostics: where they are, what they
// are, and how to name them in a document path.
#ifndef FLX_HOST_CONFIG_YAML_NODE_H_
#define FLX_HOST_CONFIG_YAML_NODE_H_

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>

#include "config/diagnostics.h"

namespace flx {

// How deep maps and sequences may nest in a configuration. Deeper documents (or ones that
// loop through an alias) are rejected by LoadGraphConfig; config trees cut them off.
constexpr int kMaxNestingDepth = 64;

// The 1-based position of `node` in `file`; line 0 when the node has no mark (it was built
// in code rather than parsed).
SourceLocation LocationOf(const YAML::Node& node, const std::string& file);

// How a node reads in "expected ..., got <this>": "'abc'" for a scalar, "a map",
// "a sequence" or "null".
std::string DescribeNode(const YAML::Node& node);

// "parent.key" ("key" at the top level) and "parent[index]".
std::string ChildPath(const std::string& parent, const std::string& key);
std::string ElementPath(const std::string& parent, size_t index);

}  // namespace flx

#endif  // FLX_HOST_CONFIG_YAML_NODE_H_
