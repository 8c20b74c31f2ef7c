// The YAML graph: what a fluxserve configuration file says (server settings, plugin
// directories, stages, the model routes built from them, observers, logging), read,
// interpolated and validated in one pass.
//
// Shape (see configs/ for complete files):
//   version: 1
//   server: { listen: "127.0.0.1:8080", output_dir: ./outputs, max_body_bytes: 1048576,
//             threads: 64, max_queued_connections: 256, shutdown_grace_s: 30,
//             public_base_url: "https://images.example.com", api_keys: ["${FLUX_API_KEY:-}"] }
//   plugin_paths: [./build/plugins]
//   stages:
//     - { id: queue, kind: scheduler, library: flx_scheduler, type: fifo, config: {...} }
//     - { id: schnell, kind: pipeline, library: flx_pipeline_flux, type: flux }
//   models:
//     flux-schnell: [queue, schnell]
//     flux-dev: { chain: [queue, dev], load: lazy }   # eager (default) | lazy | manual
//   observers: [prom]
//   logging: { format: text, level: info }
#ifndef FLX_HOST_CONFIG_GRAPH_CONFIG_H_
#define FLX_HOST_CONFIG_GRAPH_CONFIG_H_

#include <flx/flx.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/environment.h"
#include "status.h"

namespace flx {

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; IPv6 hosts in brackets; port 0 = any
  std::string output_dir = "./outputs";   // absolute after loading
  uint64_t max_body_bytes = 1048576;      // > 0
  uint64_t max_upload_bytes = 52428800;   // edits' multipart bodies (image, mask); > 0
  int threads = 64;                       // HTTP worker threads, >= 1
  int max_queued_connections = 256;       // >= 1
  double shutdown_grace_s = 30;           // >= 0
  // Whole-message read deadlines (not per read): a client that trickles its request line and
  // headers, or its body, past them gets 408 and the connection closes (slowloris).
  double header_timeout_s = 10;  // > 0
  double body_timeout_s = 30;    // > 0
  std::string public_base_url;     // "" = derive image URLs from the Host header; no trailing '/'
  // Bearer tokens accepted on /v1/ routes; empty = no authentication. FLUX_API_KEYS
  // (comma-separated) adds more at `serve` time.
  std::vector<std::string> api_keys;
  // Bearer tokens for the admin routes (POST /v1/models/{id}/load, /unload); empty = those
  // routes answer 403. Separate from api_keys; FLUX_ADMIN_KEYS adds more at `serve` time.
  std::vector<std::string> admin_keys;
  // Pipelines loaded at once; loading another first unloads the least recently used idle
  // one whose models are all lazy. 0 = no bound. >= 0
  int64_t max_loaded = 0;
  // A generation's deadline when the request sets no timeout_s; 0 = none. Past it: 504.
  double request_timeout_s = 0;  // >= 0
  // Background jobs (POST /v1/images/generations with "background": true).
  double job_ttl_s = 3600;                   // an ended job's result is kept this long; > 0
  int64_t max_active_jobs = 64;              // queued or running at once; more are 429; >= 1
  int64_t max_kept_jobs = 1000;              // ended jobs kept; the oldest go first; >= 1
  int64_t max_job_result_bytes = 536870912;  // what they keep in memory; >= 1
  // With a job_queue: the jobs of each model this replica runs at once (its workers); >= 1.
  int64_t queue_workers = 1;
  SourceLocation listen_location;  // where `listen` was written (for bind errors)
};

struct LoggingConfig {
  std::string format = "text";  // text | json
  std::string level = "info";   // trace | debug | info | warn | error | critical
};

struct StageConfig {
  std::string id;  // unique, [A-Za-z0-9_-]+
  flx_kind kind = FLX_KIND_PIPELINE;
  std::string library;             // as written; the plugin loader resolves it
  std::string type;                // the factory's type name
  YAML::Node config;               // the interpolated `config:` map; an empty map when absent
  SourceLocation location;         // the stage entry
  SourceLocation config_location;  // the `config:` map, or the stage entry when absent
  std::string path;                // "stages[1]"
};

// When a model's pipeline loads: at start (eager), at its first request, which waits
// (lazy), or only when an admin asks (manual: POST /v1/models/{id}/load).
enum class ModelLoad { kEager, kLazy, kManual };
const char* ModelLoadName(ModelLoad load);
ModelLoad ParseModelLoad(const std::string& word);  // "eager" | "lazy" | "manual"

struct ModelRoute {
  std::string id;                  // the public model id (/v1/models)
  std::vector<std::string> chain;  // stage ids: [scheduler] recovery* pipeline
  SourceLocation location;
  ModelLoad load = ModelLoad::kEager;  // models: {id: {chain: [...], load: lazy}}
};

struct GraphConfig {
  std::string file;      // the path it was read from, as given
  std::string base_dir;  // absolute directory of `file`; relative paths are resolved against it
  int version = 1;
  ServerConfig server;
  std::vector<std::string> plugin_paths;  // absolute, in file order
  std::vector<StageConfig> stages;        // in file order
  std::vector<ModelRoute> models;         // in file order; the first is the default model
  std::vector<std::string> observers;     // ids of metrics stages
  std::string job_queue;                  // id of the queue stage jobs go through; "" = none
  LoggingConfig logging;

  // The stage with `id`, or nullptr.
  const StageConfig* FindStage(const std::string& id) const;
};

// Reads the file at `path` and parses it as ParseGraphConfig does, naming the file `path` in
// diagnostics. An unreadable file is NOT_FOUND (also added to `diags`).
StatusOr<GraphConfig> LoadGraphConfig(const std::string& path, const Environment& env,
                                      Diagnostics* diags);

// Parses `yaml_text`, expands ${VAR} references in every scalar value (not in keys) using
// `env`, and validates the result: syntax, keys and types of every section, stage ids and
// kinds, model chains ([scheduler] recovery* pipeline, no metrics, no repeats), observers
// (metrics stages only). Every problem is added to `diags` (which may be nullptr) with
// `file_name`:line:col and its document path, sorted by position; stages that no model or
// observer uses only earn a warning. Returns the config only when `diags` holds no errors;
// otherwise INVALID_ARGUMENT whose message is diags->ToString(). `base_dir` is the absolute
// directory of `file_name` (taken relative to the working directory).
StatusOr<GraphConfig> ParseGraphConfig(const std::string& yaml_text, const std::string& file_name,
                                       const Environment& env, Diagnostics* diags);

}  // namespace flx

#endif  // FLX_HOST_CONFIG_GRAPH_CONFIG_H_
