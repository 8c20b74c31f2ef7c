#include "config/document_preparation.h"

#include <algorithm>
#include <map>
#include <vector>

#include "config/yaml_node.h"

namespace flx {
namespace {

class Preparer {
 public:
  Preparer(const std::string& file, const Environment& env, Diagnostics* diags)
      : file_(file), env_(env), diags_(diags) {}

  void Visit(YAML::Node node, const std::string& path, int depth) {
    if (depth > kMaxNestingDepth) {
      diags_->Error(LocationOf(node, file_), path,
                    "nested deeper than " + std::to_string(kMaxNestingDepth) +
                        " levels (an alias that contains itself?)");
      return;
    }
    switch (node.Type()) {
      case YAML::NodeType::Scalar:
        Expand(node, path);
        break;
      case YAML::NodeType::Sequence: {
        size_t index = 0;
        for (YAML::Node element : node) Visit(element, ElementPath(path, index++), depth + 1);
        break;
      }
      case YAML::NodeType::Map:
        VisitMap(node, path, depth);
        break;
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        break;
    }
  }

  std::set<std::string> TakeFailedPaths() { return std::move(failed_paths_); }

 private:
  void VisitMap(YAML::Node map, const std::string& path, int depth) {
    std::map<std::string, SourceLocation> seen;
    for (auto entry : map) {
      SourceLocation key_location = LocationOf(entry.first, file_);
      if (!entry.first.IsScalar()) {
        diags_->Error(key_location, path,
                      "map keys must be plain strings, got " + DescribeNode(entry.first));
        continue;
      }
      const std::string key = entry.first.Scalar();
      auto [first, inserted] = seen.emplace(key, key_location);
      if (!inserted) {
        diags_->Error(key_location, ChildPath(path, key),
                      "duplicate key '" + key + "' (first at line " +
                          std::to_string(first->second.line) + ", column " +
                          std::to_string(first->second.column) + ")");
        continue;
      }
      Visit(entry.second, ChildPath(path, key), depth + 1);
    }
  }

  void Expand(YAML::Node scalar, const std::string& path) {
    const std::string text = scalar.Scalar();
    if (text.find('$') == std::string::npos) return;
    // An alias shares its node with the anchor: expanding it again would turn "$$" twice.
    for (const YAML::Node& done : expanded_) {
      if (done.is(scalar)) return;
    }
    expanded_.push_back(scalar);
    StatusOr<std::string> value = Interpolate(text, env_);
    if (!value.ok()) {
      diags_->Error(LocationOf(scalar, file_), path, value.status().message());
      failed_paths_.insert(path);
      return;
    }
    scalar = *value;
  }

  const std::string& file_;
  const Environment& env_;
  Diagnostics* diags_;
  std::vector<YAML::Node> expanded_;
  std::set<std::string> failed_paths_;
};

}  // namespace

std::set<std::string> PrepareDocument(YAML::Node root, const std::string& file,
                                      const Environment& env, Diagnostics* diags) {
  Preparer preparer(file, env, diags);
  preparer.Visit(root, "", 0);
  return preparer.TakeFailedPaths();
}

}  // namespace flx
