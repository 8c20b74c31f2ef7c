// The pass over a parsed configuration document that runs before the schema: variable
// expansion in every scalar value, and the checks that concern YAML itself rather than
// fluxserve (duplicate keys, non-string keys, runaway nesting).
#ifndef FLX_HOST_CONFIG_DOCUMENT_PREPARATION_H_
#define FLX_HOST_CONFIG_DOCUMENT_PREPARATION_H_

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

#include "config/diagnostics.h"
#include "config/environment.h"

namespace flx {

// Replaces, in place, the text of every scalar value under `root` by its expansion
// (Interpolate); marks are kept, so later diagnostics still point into the file. Map keys are
// not expanded. A scalar reached twice through an alias is expanded once. Reports, at the
// offending node of `file`: each failed expansion, each repeated key in a map, each key that
// is not a scalar, and nesting deeper than kMaxNestingDepth (which is not walked further).
// Returns the document paths ("stages[2].config.model") of the scalars whose expansion
// failed, so the schema can skip them instead of reporting them twice.
std::set<std::string> PrepareDocument(YAML::Node root, const std::string& file,
                                      const Environment& env, Diagnostics* diags);

}  // namespace flx

#endif  // FLX_HOST_CONFIG_DOCUMENT_PREPARATION_H_
