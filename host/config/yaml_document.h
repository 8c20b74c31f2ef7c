// Loading exactly one YAML document from a configuration file. yaml-cpp 0.7's LoadAll() never
// returns on some malformed streams (a stray ',' outside a flow collection: the parser reports
// another empty document without consuming the token, forever, growing memory; found by
// fuzz/graph_config_fuzzer.cc). We never need more than "the first document, and whether a
// second one starts", so the parser is asked for at most two documents.
#ifndef FLX_HOST_CONFIG_YAML_DOCUMENT_H_
#define FLX_HOST_CONFIG_YAML_DOCUMENT_H_

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>

namespace flx {

struct SingleDocument {
  YAML::Node root;  // the first document; a Null node for an empty stream
  // Where content after the first document starts (a second '---' document, or a token the
  // parser could not place in the first one); nullopt when the stream holds one document.
  std::optional<YAML::Mark> trailing_content;
};

// Parses `yaml_text`. Throws YAML::Exception (with its mark) on a syntax error, like
// YAML::Load. Bounded: at most two documents are parsed whatever the input.
SingleDocument LoadSingleDocument(const std::string& yaml_text);

}  // namespace flx

#endif  // FLX_HOST_CONFIG_YAML_DOCUMENT_H_
