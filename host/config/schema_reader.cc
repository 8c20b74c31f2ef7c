#include "config/schema_reader.h"

#include <cmath>
#include <sstream>

#include "config/scalar.h"
#include "config/suggest.h"
#include "config/yaml_node.h"

namespace flx {
namespace {

std::string Join(const std::vector<std::string>& words, const char* separator) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : separator) + w;
  return out;
}

}  // namespace

SchemaReader::SchemaReader(const std::string& file, const std::set<std::string>& skip_paths,
                           Diagnostics* diags)
    : file_(file), skip_paths_(skip_paths), diags_(diags) {}

SourceLocation SchemaReader::Locate(const YAML::Node& node) const {
  return LocationOf(node, file_);
}

void SchemaReader::Error(const YAML::Node& at, const std::string& path,
                         const std::string& message) {
  diags_->Error(Locate(at), path, message);
}

void SchemaReader::Warning(const YAML::Node& at, const std::string& path,
                           const std::string& message) {
  diags_->Warning(Locate(at), path, message);
}

void SchemaReader::RejectUnknownKeys(const YAML::Node& map, const std::string& path,
                                     const std::vector<std::string>& known) {
  for (const auto& entry : map) {
    if (!entry.first.IsScalar()) continue;  // reported by PrepareDocument
    const std::string& key = entry.first.Scalar();
    bool is_known = false;
    for (const std::string& k : known) is_known = is_known || k == key;
    if (!is_known) Error(entry.first, path, "unknown key '" + key + "'" + DidYouMean(key, known));
  }
}

YAML::Node SchemaReader::Require(const YAML::Node& map, const std::string& path,
                                 const std::string& key) {
  YAML::Node value = map[key];
  if (!value) Error(map, path, "missing required key '" + key + "'");
  return value;
}

std::optional<std::string> SchemaReader::String(const YAML::Node& node, const std::string& path) {
  if (Skipped(path)) return std::nullopt;
  if (!node.IsScalar()) {
    Error(node, path, "expected a string, got " + DescribeNode(node));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<std::string> SchemaReader::NonEmptyString(const YAML::Node& node,
                                                        const std::string& path) {
  std::optional<std::string> text = String(node, path);
  if (text && text->empty()) {
    Error(node, path, "must not be empty");
    return std::nullopt;
  }
  return text;
}

std::optional<int64_t> SchemaReader::Integer(const YAML::Node& node, const std::string& path,
                                             int64_t min, int64_t max) {
  if (Skipped(path)) return std::nullopt;
  if (!node.IsScalar()) {
    Error(node, path, "expected an integer, got " + DescribeNode(node));
    return std::nullopt;
  }
  StatusOr<int64_t> value = ParseInteger(node.Scalar());
  if (!value.ok()) {
    Error(node, path, value.status().message());
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    Error(
        node, path,
        "must be " +
            (*value < min ? "at least " + std::to_string(min) : "at most " + std::to_string(max)) +
            ", got " + std::to_string(*value));
    return std::nullopt;
  }
  return *value;
}

std::optional<double> SchemaReader::Number(const YAML::Node& node, const std::string& path,
                                           double min) {
  if (Skipped(path)) return std::nullopt;
  if (!node.IsScalar()) {
    Error(node, path, "expected a number, got " + DescribeNode(node));
    return std::nullopt;
  }
  StatusOr<double> value = ParseNumber(node.Scalar());
  if (!value.ok()) {
    Error(node, path, value.status().message());
    return std::nullopt;
  }
  if (!std::isfinite(*value) || *value < min) {
    std::ostringstream bound;
    bound << min;
    Error(node, path,
          "must be a finite number >= " + bound.str() + ", got '" + node.Scalar() + "'");
    return std::nullopt;
  }
  return *value;
}

std::optional<std::string> SchemaReader::OneOf(const YAML::Node& node, const std::string& path,
                                               const std::vector<std::string>& allowed) {
  std::optional<std::string> word = String(node, path);
  if (!word) return std::nullopt;
  for (const std::string& a : allowed) {
    if (a == *word) return word;
  }
  Error(node, path,
        "expected one of " + Join(allowed, "|") + ", got '" + *word + "'" +
            DidYouMean(*word, allowed));
  return std::nullopt;
}

}  // namespace flx
