// Typed reads of schema fields out of YAML nodes. Each read reports its own problem (wrong
// type, out of range, not one of the allowed words) at the node and returns nullopt, so a
// validator states what it expects and moves on to the next field.
#ifndef FLX_HOST_CONFIG_SCHEMA_READER_H_
#define FLX_HOST_CONFIG_SCHEMA_READER_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/diagnostics.h"

namespace flx {

class SchemaReader {
 public:
  // Diagnostics name `file`; nodes at `skip_paths` were already reported and read as
  // nullopt without a new message. Both must outlive the reader.
  SchemaReader(const std::string& file, const std::set<std::string>& skip_paths,
               Diagnostics* diags);

  SourceLocation Locate(const YAML::Node& node) const;
  void Error(const YAML::Node& at, const std::string& path, const std::string& message);
  void Warning(const YAML::Node& at, const std::string& path, const std::string& message);
  bool Skipped(const std::string& path) const { return skip_paths_.count(path) > 0; }

  // Reports every key of the map `map` (at `path`) that is not in `known`, suggesting the
  // closest known key.
  void RejectUnknownKeys(const YAML::Node& map, const std::string& path,
                         const std::vector<std::string>& known);
  // The value of `key` in `map`; when absent, reports "missing required key" at the map
  // and returns an undefined node.
  YAML::Node Require(const YAML::Node& map, const std::string& path, const std::string& key);

  // Each reads the node at `path`: any scalar as text; a non-empty string; an integer in
  // [min, max]; a finite number >= min; one of `allowed` words.
  std::optional<std::string> String(const YAML::Node& node, const std::string& path);
  std::optional<std::string> NonEmptyString(const YAML::Node& node, const std::string& path);
  std::optional<int64_t> Integer(const YAML::Node& node, const std::string& path, int64_t min,
                                 int64_t max);
  std::optional<double> Number(const YAML::Node& node, const std::string& path, double min);
  std::optional<std::string> OneOf(const YAML::Node& node, const std::string& path,
                                   const std::vector<std::string>& allowed);

 private:
  const std::string& file_;
  const std::set<std::string>& skip_paths_;
  Diagnostics* diags_;
};

}  // namespace flx

#endif  // FLX_HOST_CONFIG_SCHEMA_READER_H_
