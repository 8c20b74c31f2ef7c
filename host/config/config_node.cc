#include "config/config_node.h"

#include <atomic>
#include <utility>
#include <vector>

#include "config/scalar.h"
#include "config/yaml_node.h"
#include "error.h"

// One node of a ConfigTree. Everything but the read marks is fixed at construction, so
// concurrent readers need no lock.
struct flx_config {
  enum class Type { kNull, kScalar, kSequence, kMap };

  Type type = Type::kNull;
  std::string scalar;
  flx::SourceLocation location;
  std::string path;
  std::vector<const flx_config*> children;  // a sequence's elements or a map's values
  std::vector<std::string> keys;            // a map's keys, parallel to children
  std::vector<flx::SourceLocation> key_locations;
  std::unique_ptr<std::atomic<bool>[]> key_read;  // parallel to keys
};

namespace flx {

class ConfigTree {
 public:
  explicit ConfigTree(std::string stage_id) : stage_id_(std::move(stage_id)) {}

  // Mirrors `node` and everything below it; returns the new node.
  flx_config* Build(const YAML::Node& node, SourceLocation location, std::string path,
                    const std::string& file, int depth) {
    nodes_.push_back(std::make_unique<flx_config>());
    flx_config* out = nodes_.back().get();
    out->location = std::move(location);
    out->path = std::move(path);
    if (depth > kMaxNestingDepth) return out;
    switch (node.Type()) {
      case YAML::NodeType::Scalar:
        out->type = flx_config::Type::kScalar;
        out->scalar = node.Scalar();
        break;
      case YAML::NodeType::Sequence:
        out->type = flx_config::Type::kSequence;
        for (const YAML::Node& element : node) {
          out->children.push_back(Build(element, LocationOf(element, file),
                                        ElementPath(out->path, out->children.size()), file,
                                        depth + 1));
        }
        break;
      case YAML::NodeType::Map:
        out->type = flx_config::Type::kMap;
        for (const auto& entry : node) {
          if (!entry.first.IsScalar()) continue;
          const std::string& key = entry.first.Scalar();
          SourceLocation key_location = LocationOf(entry.first, file);
          SourceLocation value_location = LocationOf(entry.second, file);
          if (value_location.line == 0) value_location = key_location;
          out->keys.push_back(key);
          out->key_locations.push_back(key_location);
          out->children.push_back(Build(entry.second, std::move(value_location),
                                        ChildPath(out->path, key), file, depth + 1));
        }
        out->key_read.reset(new std::atomic<bool>[out->keys.size()]);
        for (size_t i = 0; i < out->keys.size(); ++i) out->key_read[i].store(false);
        break;
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        break;
    }
    return out;
  }

  void set_root(flx_config* root) {
    if (root->type == flx_config::Type::kNull) {
      root->type = flx_config::Type::kMap;
      root->key_read.reset(new std::atomic<bool>[0]);
    }
    root_ = root;
  }
  const flx_config* root() const { return root_; }
  const std::string& stage_id() const { return stage_id_; }

 private:
  std::string stage_id_;
  std::vector<std::unique_ptr<flx_config>> nodes_;
  const flx_config* root_ = nullptr;
};

namespace {

using Type = flx_config::Type;

std::string Located(const flx_config* node, const std::string& message) {
  std::string out;
  std::string where = node->location.ToString();
  if (!where.empty()) out += where + ": ";
  if (!node->path.empty()) out += node->path + ": ";
  return out + message;
}

flx_error* ErrorAt(const flx_config* node, flx_code code, const std::string& message) {
  return NewError(code, Located(node, message));
}

std::string Describe(const flx_config* node) {
  switch (node->type) {
    case Type::kScalar:
      return "'" + node->scalar + "'";
    case Type::kSequence:
      return "a sequence";
    case Type::kMap:
      return "a map";
    case Type::kNull:
      break;
  }
  return "null";
}

flx_error* TypeError(const flx_config* node, const std::string& expected) {
  return ErrorAt(node, FLX_INVALID_ARGUMENT, "expected " + expected + ", got " + Describe(node));
}

// Runs `body`, turning an allocation failure into an error: nothing may throw across the ABI.
template <typename Body>
flx_error* NoThrow(Body body) noexcept {
  try {
    return body();
  } catch (...) {
    return ApiErrorNew(FLX_RESOURCE_EXHAUSTED, "out of memory while reading the configuration");
  }
}

// Finds `key` in the map `config` and marks it read. Sets *value to the key's node, or to
// NULL (and *found to 0) when the key or the config is missing.
flx_error* Lookup(const flx_config* config, const char* key, int* found, const flx_config** value) {
  *value = nullptr;
  if (config == nullptr) {
    if (found) *found = 0;
    return nullptr;
  }
  if (key == nullptr) return ErrorAt(config, FLX_INVALID_ARGUMENT, "config lookup with a NULL key");
  if (config->type != Type::kMap) {
    return ErrorAt(
        config, FLX_INVALID_ARGUMENT,
        std::string("cannot look up '") + key + "': expected a map, got " + Describe(config));
  }
  for (size_t i = 0; i < config->keys.size(); ++i) {
    if (config->keys[i] == key) {
      config->key_read[i].store(true, std::memory_order_relaxed);
      *value = config->children[i];
      return nullptr;
    }
  }
  if (found) *found = 0;
  return nullptr;
}

void VisitUnread(const flx_config* node, const std::string& stage_id, Diagnostics* diags) {
  if (node->type == Type::kMap) {
    for (size_t i = 0; i < node->keys.size(); ++i) {
      if (node->key_read[i].load(std::memory_order_relaxed)) {
        VisitUnread(node->children[i], stage_id, diags);
      } else {
        diags->Warning(
            node->key_locations[i], ChildPath(node->path, node->keys[i]),
            "key '" + node->keys[i] + "' was not read by stage '" + stage_id + "' (misspelled?)");
      }
    }
  } else if (node->type == Type::kSequence) {
    for (const flx_config* child : node->children) VisitUnread(child, stage_id, diags);
  }
}

}  // namespace

std::shared_ptr<ConfigTree> MakeConfigTree(const YAML::Node& root, SourceLocation root_location,
                                           std::string root_path, std::string file,
                                           std::string stage_id) {
  auto tree = std::make_shared<ConfigTree>(std::move(stage_id));
  tree->set_root(tree->Build(root, std::move(root_location), std::move(root_path), file, 0));
  return tree;
}

const flx_config* ConfigTreeRoot(const ConfigTree& tree) { return tree.root(); }

void ReportUnreadKeys(const ConfigTree& tree, Diagnostics* diags) {
  VisitUnread(tree.root(), tree.stage_id(), diags);
}

flx_error* ConfigGetString(const flx_config* config, const char* key, int* found,
                           const char** out) {
  return NoThrow([&]() -> flx_error* {
    const flx_config* value = nullptr;
    if (flx_error* error = Lookup(config, key, found, &value)) return error;
    if (value == nullptr) return nullptr;
    if (value->type != Type::kScalar) return TypeError(value, "a string");
    if (found) *found = 1;
    if (out) *out = value->scalar.c_str();
    return nullptr;
  });
}

flx_error* ConfigGetInt(const flx_config* config, const char* key, int* found, int64_t* out) {
  return NoThrow([&]() -> flx_error* {
    const flx_config* value = nullptr;
    if (flx_error* error = Lookup(config, key, found, &value)) return error;
    if (value == nullptr) return nullptr;
    if (value->type != Type::kScalar) return TypeError(value, "an integer");
    StatusOr<int64_t> parsed = ParseInteger(value->scalar);
    if (!parsed.ok()) return ErrorAt(value, FLX_INVALID_ARGUMENT, parsed.status().message());
    if (found) *found = 1;
    if (out) *out = *parsed;
    return nullptr;
  });
}

flx_error* ConfigGetDouble(const flx_config* config, const char* key, int* found, double* out) {
  return NoThrow([&]() -> flx_error* {
    const flx_config* value = nullptr;
    if (flx_error* error = Lookup(config, key, found, &value)) return error;
    if (value == nullptr) return nullptr;
    if (value->type != Type::kScalar) return TypeError(value, "a number");
    StatusOr<double> parsed = ParseNumber(value->scalar);
    if (!parsed.ok()) return ErrorAt(value, FLX_INVALID_ARGUMENT, parsed.status().message());
    if (found) *found = 1;
    if (out) *out = *parsed;
    return nullptr;
  });
}

flx_error* ConfigGetBool(const flx_config* config, const char* key, int* found, int* out) {
  return NoThrow([&]() -> flx_error* {
    const flx_config* value = nullptr;
    if (flx_error* error = Lookup(config, key, found, &value)) return error;
    if (value == nullptr) return nullptr;
    if (value->type != Type::kScalar) {
      return TypeError(value, "a boolean (true/false, yes/no, on/off, 1/0)");
    }
    StatusOr<bool> parsed = ParseBoolean(value->scalar);
    if (!parsed.ok()) return ErrorAt(value, FLX_INVALID_ARGUMENT, parsed.status().message());
    if (found) *found = 1;
    if (out) *out = *parsed ? 1 : 0;
    return nullptr;
  });
}

flx_error* ConfigGetNode(const flx_config* config, const char* key, int* found,
                         const flx_config** out) {
  return NoThrow([&]() -> flx_error* {
    const flx_config* value = nullptr;
    if (flx_error* error = Lookup(config, key, found, &value)) return error;
    if (value == nullptr) return nullptr;
    if (value->type != Type::kMap && value->type != Type::kSequence) {
      return TypeError(value, "a map or a sequence");
    }
    if (found) *found = 1;
    if (out) *out = value;
    return nullptr;
  });
}

size_t ConfigSize(const flx_config* config) {
  if (config == nullptr || config->type != Type::kSequence) return 0;
  return config->children.size();
}

flx_error* ConfigAt(const flx_config* config, size_t index, const flx_config** out) {
  return NoThrow([&]() -> flx_error* {
    if (config == nullptr) return NewError(FLX_INVALID_ARGUMENT, "config_at on a NULL config");
    if (config->type != Type::kSequence) return TypeError(config, "a sequence");
    if (index >= config->children.size()) {
      return ErrorAt(config, FLX_OUT_OF_RANGE,
                     "index " + std::to_string(index) + " is out of range for a sequence of " +
                         std::to_string(config->children.size()));
    }
    if (out) *out = config->children[index];
    return nullptr;
  });
}

size_t ConfigKeyCount(const flx_config* config) {
  if (config == nullptr || config->type != Type::kMap) return 0;
  return config->keys.size();
}

const char* ConfigKeyAt(const flx_config* config, size_t index) {
  if (config == nullptr || config->type != Type::kMap || index >= config->keys.size()) {
    return nullptr;
  }
  config->key_read[index].store(true, std::memory_order_relaxed);
  return config->keys[index].c_str();
}

const char* ConfigScalar(const flx_config* config) {
  if (config == nullptr || config->type != Type::kScalar) return nullptr;
  return config->scalar.c_str();
}

flx_error* ConfigError(const flx_config* config, const char* message) {
  return NoThrow([&]() -> flx_error* {
    std::string text = message ? message : "";
    if (config == nullptr) return NewError(FLX_INVALID_ARGUMENT, std::move(text));
    return ErrorAt(config, FLX_INVALID_ARGUMENT, text);
  });
}

}  // namespace flx
