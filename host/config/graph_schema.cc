#include "config/graph_schema.h"

#include <climits>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <vector>

#include "config/schema_reader.h"
#include "config/suggest.h"
#include "config/yaml_node.h"

namespace flx {
namespace {

const std::vector<std::string> kTopLevelKeys = {"version",   "server",    "plugin_paths",
                                                "stages",    "models",    "observers",
                                                "job_queue", "logging"};
const std::vector<std::string> kServerKeys = {
    "listen",           "output_dir",     "max_body_bytes", "max_upload_bytes", "threads",
    "max_queued_connections",
    "shutdown_grace_s", "public_base_url", "api_keys", "header_timeout_s", "body_timeout_s",
    "request_timeout_s", "job_ttl_s", "max_active_jobs", "max_kept_jobs", "max_job_result_bytes",
    "queue_workers", "admin_keys", "max_loaded"};
const std::vector<std::string> kModelKeys = {"chain", "load"};
const std::vector<std::string> kLoadModes = {"eager", "lazy", "manual"};
const std::vector<std::string> kStageKeys = {"id", "kind", "library", "type", "config"};
const std::vector<std::string> kLoggingKeys = {"format", "level"};
const std::vector<std::string> kKinds = {"scheduler", "pipeline", "recovery", "metrics", "queue"};
const std::vector<std::string> kLogFormats = {"text", "json"};
const std::vector<std::string> kLogLevels = {"trace", "debug", "info", "warn", "error", "critical"};

flx_kind KindFromName(const std::string& name) {
  if (name == "scheduler") return FLX_KIND_SCHEDULER;
  if (name == "recovery") return FLX_KIND_RECOVERY;
  if (name == "metrics") return FLX_KIND_METRICS;
  if (name == "queue") return FLX_KIND_QUEUE;
  return FLX_KIND_PIPELINE;
}

// How a stage of `kind` reads in a sentence: "a scheduler", "a metrics stage".
std::string KindPhrase(flx_kind kind) {
  switch (kind) {
    case FLX_KIND_SCHEDULER:
      return "a scheduler";
    case FLX_KIND_PIPELINE:
      return "a pipeline";
    case FLX_KIND_RECOVERY:
      return "a recovery stage";
    case FLX_KIND_METRICS:
      return "a metrics stage";
    case FLX_KIND_QUEUE:
      return "a queue stage";
    case FLX_KIND_RANGE_:
      break;
  }
  return "a stage";
}

bool AllCharsIn(const std::string& text, const std::string& extra) {
  if (text.empty()) return false;
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              extra.find(c) != std::string::npos;
    if (!ok) return false;
  }
  return true;
}

// Why `listen` is not HOST:PORT, or "" when it is.
std::string ListenProblem(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return "expected HOST:PORT, got '" + listen + "'";
  std::string host = listen.substr(0, colon);
  std::string port = listen.substr(colon + 1);
  if (host.empty()) {
    return "expected HOST:PORT with a host (0.0.0.0 for every interface), got '" + listen + "'";
  }
  if (host.front() == '[' || host.back() == ']') {
    if (host.size() < 3 || host.front() != '[' || host.back() != ']') {
      return "malformed bracketed IPv6 host in '" + listen + "'";
    }
  } else if (host.find(':') != std::string::npos) {
    return "an IPv6 host must be in brackets, as in '[::1]:8080', got '" + listen + "'";
  }
  bool digits = !port.empty() && port.size() <= 5;
  for (char c : port) digits = digits && c >= '0' && c <= '9';
  if (!digits || std::stoi(port) > 65535) {
    return "the port must be a number from 0 to 65535, got '" + port + "'";
  }
  return "";
}

std::string ResolvePath(const std::string& base_dir, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
  std::string out = p.lexically_normal().string();
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// What the schema learned about one stage id, kept even when the stage has other errors so
// references to it do not cascade into "unknown stage" errors.
struct StageInfo {
  std::optional<flx_kind> kind;
  SourceLocation location;
  YAML::Node node;
  std::string path;
  bool used = false;
};

class GraphChecker {
 public:
  GraphChecker(const std::set<std::string>& skip_paths, GraphConfig* config, Diagnostics* diags)
      : reader_(config->file, skip_paths, diags), config_(config) {}

  void Check(const YAML::Node& root) {
    reader_.RejectUnknownKeys(root, "", kTopLevelKeys);
    CheckVersion(reader_.Require(root, "", "version"));
    if (root["server"]) CheckServer(root["server"]);
    if (root["plugin_paths"]) CheckPluginPaths(root["plugin_paths"]);
    YAML::Node stages = reader_.Require(root, "", "stages");
    if (stages) CheckStages(stages);
    YAML::Node models = reader_.Require(root, "", "models");
    if (models) CheckModels(models);
    if (root["observers"]) CheckObservers(root["observers"]);
    if (root["job_queue"]) CheckJobQueue(root["job_queue"]);
    if (root["logging"]) CheckLogging(root["logging"]);
    WarnUnusedStages();
  }

 private:
  void CheckVersion(const YAML::Node& node) {
    if (!node) return;
    std::optional<int64_t> version = reader_.Integer(
        node, "version", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
    if (!version) return;
    if (*version != 1) {
      reader_.Error(
          node, "version",
          "unsupported version " + std::to_string(*version) + " (this fluxserve reads version 1)");
      return;
    }
    config_->version = 1;
  }

  // A section that must be a map; null reads as an empty one. Returns false when unusable.
  bool ExpectMap(const YAML::Node& node, const std::string& path, const std::string& what) {
    if (node.IsMap() || node.IsNull()) return true;
    reader_.Error(node, path, "expected " + what + ", got " + DescribeNode(node));
    return false;
  }

  void CheckServer(const YAML::Node& server) {
    if (!ExpectMap(server, "server", "a map of server settings") || server.IsNull()) return;
    reader_.RejectUnknownKeys(server, "server", kServerKeys);
    ServerConfig& out = config_->server;
    if (YAML::Node n = server["listen"]) {
      if (std::optional<std::string> listen = reader_.String(n, "server.listen")) {
        std::string problem = ListenProblem(*listen);
        if (problem.empty()) {
          out.listen = *listen;
          out.listen_location = reader_.Locate(n);
        } else {
          reader_.Error(n, "server.listen", problem);
        }
      }
    }
    if (YAML::Node n = server["output_dir"]) {
      if (auto dir = reader_.NonEmptyString(n, "server.output_dir")) out.output_dir = *dir;
    }
    if (YAML::Node n = server["max_body_bytes"]) {
      auto v = reader_.Integer(n, "server.max_body_bytes", 1, std::numeric_limits<int64_t>::max());
      if (v) out.max_body_bytes = static_cast<uint64_t>(*v);
    }
    if (YAML::Node n = server["max_upload_bytes"]) {
      auto v =
          reader_.Integer(n, "server.max_upload_bytes", 1, std::numeric_limits<int64_t>::max());
      if (v) out.max_upload_bytes = static_cast<uint64_t>(*v);
    }
    if (YAML::Node n = server["threads"]) {
      if (auto v = reader_.Integer(n, "server.threads", 1, INT_MAX)) out.threads = *v;
    }
    if (YAML::Node n = server["max_queued_connections"]) {
      auto v = reader_.Integer(n, "server.max_queued_connections", 1, INT_MAX);
      if (v) out.max_queued_connections = *v;
    }
    if (YAML::Node n = server["shutdown_grace_s"]) {
      if (auto v = reader_.Number(n, "server.shutdown_grace_s", 0)) out.shutdown_grace_s = *v;
    }
    if (YAML::Node n = server["header_timeout_s"]) {
      if (auto v = reader_.Number(n, "server.header_timeout_s", 0.001)) out.header_timeout_s = *v;
    }
    if (YAML::Node n = server["body_timeout_s"]) {
      if (auto v = reader_.Number(n, "server.body_timeout_s", 0.001)) out.body_timeout_s = *v;
    }
    if (YAML::Node n = server["api_keys"]) CheckKeys(n, "server.api_keys", &out.api_keys);
    if (YAML::Node n = server["max_loaded"]) {
      const int64_t max = std::numeric_limits<int64_t>::max();
      if (auto v = reader_.Integer(n, "server.max_loaded", 0, max)) out.max_loaded = *v;
    }
    if (YAML::Node n = server["admin_keys"]) {
      CheckKeys(n, "server.admin_keys", &out.admin_keys);
    }
    CheckJobSettings(server, &out);
    if (YAML::Node n = server["public_base_url"]) {
      if (auto url = reader_.String(n, "server.public_base_url")) {
        bool absolute = url->rfind("http://", 0) == 0 || url->rfind("https://", 0) == 0;
        if (url->empty() || absolute) {
          while (!url->empty() && url->back() == '/') url->pop_back();
          out.public_base_url = *url;
        } else {
          reader_.Error(n, "server.public_base_url",
                        "expected an absolute http:// or https:// URL, got '" + *url + "'");
        }
      }
    }
  }

  // The deadline and background-job keys of `server:`.
  void CheckJobSettings(const YAML::Node& server, ServerConfig* out) {
    if (YAML::Node n = server["request_timeout_s"]) {
      if (auto v = reader_.Number(n, "server.request_timeout_s", 0)) out->request_timeout_s = *v;
    }
    if (YAML::Node n = server["job_ttl_s"]) {
      if (auto v = reader_.Number(n, "server.job_ttl_s", 0.001)) out->job_ttl_s = *v;
    }
    const int64_t max = std::numeric_limits<int64_t>::max();
    const std::pair<const char*, int64_t*> integers[] = {
        {"max_active_jobs", &out->max_active_jobs},
        {"max_kept_jobs", &out->max_kept_jobs},
        {"max_job_result_bytes", &out->max_job_result_bytes},
        {"queue_workers", &out->queue_workers}};
    for (const auto& [key, field] : integers) {
      if (YAML::Node n = server[key]) {
        if (auto v = reader_.Integer(n, std::string("server.") + key, 1, max)) *field = *v;
      }
    }
  }

  // api_keys, admin_keys: a sequence of strings; empty entries are skipped so that
  // "${FLUX_API_KEY:-}" leaves authentication off when the variable is unset.
  void CheckKeys(const YAML::Node& keys, const std::string& path, std::vector<std::string>* out) {
    if (keys.IsNull()) return;
    if (!keys.IsSequence()) {
      reader_.Error(keys, path, "expected a sequence of keys, got " + DescribeNode(keys));
      return;
    }
    size_t index = 0;
    for (const YAML::Node& element : keys) {
      if (auto key = reader_.String(element, ElementPath(path, index++))) {
        if (!key->empty()) out->push_back(*key);
      }
    }
  }

  void CheckPluginPaths(const YAML::Node& paths) {
    if (paths.IsNull()) return;
    if (!paths.IsSequence()) {
      reader_.Error(paths, "plugin_paths",
                    "expected a sequence of directories, got " + DescribeNode(paths));
      return;
    }
    size_t index = 0;
    for (const YAML::Node& element : paths) {
      std::string path = ElementPath("plugin_paths", index++);
      if (auto dir = reader_.NonEmptyString(element, path)) {
        config_->plugin_paths.push_back(ResolvePath(config_->base_dir, *dir));
      }
    }
  }

  void CheckStages(const YAML::Node& stages) {
    if (!stages.IsSequence()) {
      reader_.Error(stages, "stages", "expected a sequence of stages, got " + DescribeNode(stages));
      return;
    }
    size_t index = 0;
    for (const YAML::Node& stage : stages) CheckStage(stage, ElementPath("stages", index++));
  }

  void CheckStage(const YAML::Node& stage, const std::string& path) {
    if (!stage.IsMap()) {
      reader_.Error(
          stage, path,
          "expected a stage (a map with id, kind, library and type), got " + DescribeNode(stage));
      return;
    }
    reader_.RejectUnknownKeys(stage, path, kStageKeys);
    StageConfig out;
    out.path = path;
    out.location = reader_.Locate(stage);
    bool valid = true;

    std::optional<std::string> id;
    if (YAML::Node n = reader_.Require(stage, path, "id")) id = StageId(n, path + ".id");
    valid = valid && id.has_value();

    std::optional<flx_kind> kind;
    if (YAML::Node n = reader_.Require(stage, path, "kind")) {
      if (auto name = reader_.OneOf(n, path + ".kind", kKinds)) kind = KindFromName(*name);
    }
    valid = valid && kind.has_value();

    std::optional<std::string> library, type;
    if (YAML::Node n = reader_.Require(stage, path, "library")) {
      library = reader_.NonEmptyString(n, path + ".library");
    }
    if (YAML::Node n = reader_.Require(stage, path, "type")) {
      type = reader_.NonEmptyString(n, path + ".type");
    }
    valid = valid && library && type;

    YAML::Node config = stage["config"];
    if (!config || config.IsNull()) {
      out.config = YAML::Node(YAML::NodeType::Map);
      out.config_location = out.location;
    } else if (config.IsMap()) {
      out.config = config;
      out.config_location = reader_.Locate(config);
    } else {
      reader_.Error(config, path + ".config",
                    "expected a map of stage settings, got " + DescribeNode(config));
      valid = false;
    }

    if (id && stage_info_.count(*id) == 0) {
      stage_order_.push_back(*id);
      stage_info_[*id] = StageInfo{kind, out.location, stage, path, false};
    }
    if (!valid) return;
    out.id = *id;
    out.kind = *kind;
    out.library = *library;
    out.type = *type;
    config_->stages.push_back(std::move(out));
  }

  // A new, well-formed stage id, or nullopt (reported).
  std::optional<std::string> StageId(const YAML::Node& node, const std::string& path) {
    std::optional<std::string> id = reader_.String(node, path);
    if (!id) return std::nullopt;
    if (!AllCharsIn(*id, "_-")) {
      reader_.Error(node, path,
                    "invalid stage id '" + *id + "' (use letters, digits, '_' and '-')");
      return std::nullopt;
    }
    auto previous = stage_info_.find(*id);
    if (previous != stage_info_.end()) {
      const SourceLocation& first = previous->second.location;
      reader_.Error(node, path,
                    "duplicate stage id '" + *id + "' (first defined at line " +
                        std::to_string(first.line) + ", column " + std::to_string(first.column) +
                        ")");
      return std::nullopt;
    }
    return id;
  }

  // The stage a reference names (marking it used), or nullptr (reported).
  StageInfo* ResolveStage(const YAML::Node& node, const std::string& path) {
    std::optional<std::string> id = reader_.String(node, path);
    if (!id) return nullptr;
    auto it = stage_info_.find(*id);
    if (it == stage_info_.end()) {
      reader_.Error(node, path, "unknown stage '" + *id + "'" + DidYouMean(*id, stage_order_));
      return nullptr;
    }
    it->second.used = true;
    return &it->second;
  }

  void CheckModels(const YAML::Node& models) {
    if (!models.IsMap()) {
      reader_.Error(
          models, "models",
          "expected a map of model id to a chain of stage ids, got " + DescribeNode(models));
      return;
    }
    if (models.size() == 0) {
      reader_.Error(models, "models", "no models defined; define at least one model");
      return;
    }
    for (const auto& entry : models) {
      if (!entry.first.IsScalar()) continue;  // reported by PrepareDocument
      CheckModel(entry.first, entry.second);
    }
  }

  // A model is its chain, or {chain: [...], load: eager|lazy|manual}.
  void CheckModel(const YAML::Node& key, const YAML::Node& value) {
    const std::string id = key.Scalar();
    const std::string path = ChildPath("models", id);
    if (!AllCharsIn(id, "._:/-")) {
      reader_.Error(key, path, "invalid model id '" + id + "' (use letters, digits and . _ - : /)");
    }
    ModelLoad load = ModelLoad::kEager;
    // Constructed, not assigned: assigning a YAML::Node writes into the node it refers to.
    const YAML::Node chain = value.IsMap() ? value["chain"] : value;
    if (value.IsMap()) {
      reader_.RejectUnknownKeys(value, path, kModelKeys);
      if (!chain) {
        reader_.Error(value, path, "missing 'chain': the stage ids this model runs through");
        return;
      }
      if (YAML::Node mode = value["load"]) {
        if (auto word = reader_.OneOf(mode, path + ".load", kLoadModes)) load = ParseModelLoad(*word);
      }
    }
    CheckChain(key, chain, id, path, load);
  }

  void CheckChain(const YAML::Node& key, const YAML::Node& chain, const std::string& id,
                  const std::string& path, ModelLoad load) {
    if (!chain.IsSequence()) {
      reader_.Error(chain.IsNull() ? key : chain, path,
                    "expected a chain of stage ids ([scheduler] recovery... pipeline), got " +
                        DescribeNode(chain));
      return;
    }
    if (chain.size() == 0) {
      reader_.Error(chain, path, "the chain is empty; list stage ids ending with a pipeline");
      return;
    }
    ModelRoute route{id, {}, reader_.Locate(key), load};
    std::vector<std::string> seen;
    const size_t last = chain.size() - 1;
    size_t index = 0;
    for (const YAML::Node& element : chain) {
      const size_t i = index++;
      const std::string element_path = ElementPath(path, i);
      StageInfo* stage = ResolveStage(element, element_path);
      if (stage == nullptr) continue;
      const std::string stage_id = element.Scalar();
      route.chain.push_back(stage_id);
      bool repeated = false;
      for (const std::string& s : seen) repeated = repeated || s == stage_id;
      if (repeated) {
        reader_.Error(element, element_path,
                      "stage '" + stage_id + "' appears more than once in the chain");
        continue;
      }
      seen.push_back(stage_id);
      if (!stage->kind) continue;  // its definition is broken and already reported
      CheckChainPosition(element, element_path, stage_id, *stage->kind, i, last);
    }
    config_->models.push_back(std::move(route));
  }

  // The chain shape: [scheduler] recovery* pipeline, never a metrics stage.
  void CheckChainPosition(const YAML::Node& element, const std::string& path,
                          const std::string& stage_id, flx_kind kind, size_t index, size_t last) {
    const std::string named = "'" + stage_id + "'";
    if (kind == FLX_KIND_METRICS) {
      reader_.Error(
          element, path,
          "metrics stage " + named + " cannot be part of a chain; list it under 'observers'");
    } else if (kind == FLX_KIND_QUEUE) {
      reader_.Error(element, path,
                    "queue stage " + named + " cannot be part of a chain; name it as 'job_queue'");
    } else if (kind == FLX_KIND_SCHEDULER && index != 0) {
      reader_.Error(element, path,
                    "scheduler " + named +
                        " must be the first stage of the chain (a chain has at most one "
                        "scheduler)");
    } else if (kind == FLX_KIND_PIPELINE && index != last) {
      reader_.Error(element, path, "pipeline " + named + " must be the last stage of the chain");
    }
    if (index == last && kind != FLX_KIND_PIPELINE) {
      reader_.Error(element, path,
                    "a chain must end with a pipeline, but " + named + " is " + KindPhrase(kind));
    }
  }

  void CheckObservers(const YAML::Node& observers) {
    if (observers.IsNull()) return;
    if (!observers.IsSequence()) {
      reader_.Error(observers, "observers",
                    "expected a sequence of metrics stage ids, got " + DescribeNode(observers));
      return;
    }
    size_t index = 0;
    for (const YAML::Node& element : observers) {
      const std::string path = ElementPath("observers", index++);
      StageInfo* stage = ResolveStage(element, path);
      if (stage == nullptr) continue;
      const std::string id = element.Scalar();
      bool repeated = false;
      for (const std::string& o : config_->observers) repeated = repeated || o == id;
      if (repeated) {
        reader_.Error(element, path, "observer '" + id + "' is listed more than once");
        continue;
      }
      if (stage->kind && *stage->kind != FLX_KIND_METRICS) {
        reader_.Error(element, path,
                      "stage '" + id + "' is " + KindPhrase(*stage->kind) +
                          "; observers must be metrics stages");
        continue;
      }
      config_->observers.push_back(id);
    }
  }

  // job_queue: the id of the one queue stage every job goes through (replicas sharing jobs).
  void CheckJobQueue(const YAML::Node& node) {
    // Empty (e.g. "${FLUX_JOB_QUEUE:-}") means no shared queue: jobs stay in the process.
    if (node.IsNull() || (node.IsScalar() && node.Scalar().empty())) return;
    if (!node.IsScalar()) {
      reader_.Error(node, "job_queue", "expected the id of a queue stage, got " + DescribeNode(node));
      return;
    }
    StageInfo* stage = ResolveStage(node, "job_queue");
    if (stage == nullptr) return;
    if (stage->kind && *stage->kind != FLX_KIND_QUEUE) {
      reader_.Error(node, "job_queue",
                    "stage '" + node.Scalar() + "' is " + KindPhrase(*stage->kind) +
                        "; job_queue must name a queue stage");
      return;
    }
    config_->job_queue = node.Scalar();
  }

  void CheckLogging(const YAML::Node& logging) {
    if (!ExpectMap(logging, "logging", "a map of logging settings") || logging.IsNull()) return;
    reader_.RejectUnknownKeys(logging, "logging", kLoggingKeys);
    if (YAML::Node n = logging["format"]) {
      if (auto v = reader_.OneOf(n, "logging.format", kLogFormats)) config_->logging.format = *v;
    }
    if (YAML::Node n = logging["level"]) {
      if (auto v = reader_.OneOf(n, "logging.level", kLogLevels)) config_->logging.level = *v;
    }
  }

  void WarnUnusedStages() {
    for (const std::string& id : stage_order_) {
      const StageInfo& info = stage_info_[id];
      if (!info.used) {
        reader_.Warning(info.node, info.path,
                        "stage '" + id + "' is not used by any model, observer or job_queue");
      }
    }
  }

  SchemaReader reader_;
  GraphConfig* config_;
  std::map<std::string, StageInfo> stage_info_;
  std::vector<std::string> stage_order_;
};

}  // namespace

void ValidateGraph(const YAML::Node& root, const std::set<std::string>& skip_paths,
                   GraphConfig* config, Diagnostics* diags) {
  GraphChecker(skip_paths, config, diags).Check(root);
  if (!config->server.output_dir.empty()) {
    config->server.output_dir = ResolvePath(config->base_dir, config->server.output_dir);
  }
}

}  // namespace flx
