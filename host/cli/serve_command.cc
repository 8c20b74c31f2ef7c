// `fluxserve serve`: load the graph, create the stages, prepare pipelines in the background,
// serve HTTP until SIGINT/SIGTERM, then shut down gracefully and unload plugins.
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/cli.h"
#include "config/diagnostics.h"
#include "config/scalar.h"
#include "graph_reload.h"
#include "http/http_server.h"
#include "logging.h"
#include "stage_graph.h"

namespace flx {
namespace {

const char* kServeHelp =
    "usage: fluxserve serve [--config FILE] [--listen HOST:PORT] [--env-file FILE]\n"
    "                       [--port-file FILE]\n"
    "\n"
    "  --config FILE      the YAML graph (default: $FLUX_CONFIG, else configs/default.yaml)\n"
    "  --listen HOST:PORT where to listen; wins over $FLUX_LISTEN, which wins over the YAML's\n"
    "                     server.listen. Port 0 picks a free port.\n"
    "  --env-file FILE    variables for ${VAR} in the YAML (default: ./.env if present); the\n"
    "                     real environment wins over the file\n"
    "  --port-file FILE   write the bound port to FILE once listening (for scripts)\n"
    "\n"
    "signals: SIGTERM/SIGINT drain and stop; SIGHUP re-reads the YAML and .env and applies\n"
    "added, removed and changed models and stages without dropping requests in flight\n"
    "\n"
    "environment: FLUX_CONFIG, FLUX_LISTEN, FLUX_API_KEYS (comma-separated bearer tokens, added\n"
    "to server.api_keys), FLUX_ADMIN_KEYS (the same for server.admin_keys: model load/unload),\n"
    "FLUX_LOG_LEVEL, FLUX_STRUCTURED_LOGS, FLUX_PLUGIN_PATH\n";

// "HOST:PORT", "[v6]:PORT" or ":PORT".
Status ParseListen(const std::string& text, std::string* host, uint16_t* port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("listen address '" + text + "' is not HOST:PORT");
  std::string h = text.substr(0, colon);
  std::string p = text.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) h = "0.0.0.0";
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(p) > 65535) {
    return InvalidArgument("listen address '" + text + "': port must be 0..65535");
  }
  *host = h;
  *port = uint16_t(std::stoul(p));
  return Status::Ok();
}

struct ServeArgs {
  std::string config_path, listen, env_file = ".env", port_file;
  bool env_file_given = false;
  bool help = false;
};

ServeArgs ParseServeArgs(FlagParser& flags) {
  ServeArgs a;
  while (flags.Next()) {
    if (flags.Is("--help") || flags.Is("-h")) {
      a.help = true;
      return a;
    } else if (flags.Is("--config")) {
      a.config_path = flags.Value();
    } else if (flags.Is("--listen")) {
      a.listen = flags.Value();
    } else if (flags.Is("--env-file")) {
      a.env_file = flags.Value();
      a.env_file_given = true;
    } else if (flags.Is("--port-file")) {
      a.port_file = flags.Value();
    } else {
      flags.Fail("unknown option '" + flags.token() + "'");
    }
  }
  if (a.config_path.empty()) {
    const char* from_env = std::getenv("FLUX_CONFIG");
    a.config_path = from_env && *from_env ? from_env : "configs/default.yaml";
  }
  return a;
}

// Signals are handled by sigwait() on the main thread: they are blocked before any thread
// starts so every thread inherits the mask. SIGINT and SIGTERM stop the server; SIGHUP
// reloads the configuration (ReloadConfiguration).
sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

// FLUX_LOG_LEVEL and FLUX_STRUCTURED_LOGS over the YAML's logging section.
Status ConfigureServeLogging(const Environment& env, const GraphConfig& config) {
  LogSettings settings;
  settings.level = env.Get("FLUX_LOG_LEVEL").value_or(config.logging.level);
  settings.json = config.logging.format == "json";
  if (auto structured = env.Get("FLUX_STRUCTURED_LOGS"); structured && !structured->empty()) {
    StatusOr<bool> json = ParseBoolean(*structured);
    if (!json.ok()) return InvalidArgument("FLUX_STRUCTURED_LOGS: " + json.status().message());
    settings.json = *json;
  }
  Status logging = ConfigureLogging(settings);
  if (!logging.ok()) return InvalidArgument("FLUX_LOG_LEVEL: " + logging.message());
  return Status::Ok();
}

// The listen address: --listen, else FLUX_LISTEN, else the YAML; `source` names which.
Status ResolveListen(const std::string& flag, const Environment& env, const GraphConfig& config,
                     ServerOptions* options, std::string* source) {
  std::string text = flag;
  *source = "--listen";
  if (text.empty()) {
    if (auto l = env.Get("FLUX_LISTEN"); l && !l->empty()) {
      text = *l;
      *source = "FLUX_LISTEN";
    } else {
      text = config.server.listen;
      *source = config.server.listen_location.file + ":" +
                std::to_string(config.server.listen_location.line) + ": server.listen";
    }
  }
  Status parsed = ParseListen(text, &options->host, &options->port);
  if (!parsed.ok()) return InvalidArgument(*source + ": " + parsed.message());
  return Status::Ok();
}

// Appends the non-empty comma-separated entries of `text` to `keys`.
void AddCommaSeparated(const std::optional<std::string>& text, std::vector<std::string>* keys) {
  if (!text) return;
  std::stringstream ss(*text);
  std::string key;
  while (std::getline(ss, key, ',')) {
    if (!key.empty()) keys->push_back(key);
  }
}

// The YAML's server section, plus FLUX_API_KEYS and FLUX_ADMIN_KEYS (comma-separated) added
// to its keys.
void ApplyServerSection(const Environment& env, const GraphConfig& config,
                        ServerOptions* options) {
  options->max_body_bytes = config.server.max_body_bytes;
  options->max_upload_bytes = config.server.max_upload_bytes;
  options->threads = config.server.threads;
  options->max_queued_connections = config.server.max_queued_connections;
  options->shutdown_grace_s = config.server.shutdown_grace_s;
  options->header_timeout_s = config.server.header_timeout_s;
  options->body_timeout_s = config.server.body_timeout_s;
  options->output_dir = config.server.output_dir;
  options->public_base_url = config.server.public_base_url;
  options->api_keys = config.server.api_keys;
  options->request_timeout_s = config.server.request_timeout_s;
  options->jobs.ttl_s = config.server.job_ttl_s;
  options->jobs.max_active = static_cast<size_t>(config.server.max_active_jobs);
  options->jobs.max_kept = static_cast<size_t>(config.server.max_kept_jobs);
  options->jobs.max_result_bytes = static_cast<size_t>(config.server.max_job_result_bytes);
  options->queue_workers = static_cast<size_t>(config.server.queue_workers);
  options->admin_keys = config.server.admin_keys;
  AddCommaSeparated(env.Get("FLUX_API_KEYS"), &options->api_keys);
  AddCommaSeparated(env.Get("FLUX_ADMIN_KEYS"), &options->admin_keys);
}

// Logs every diagnostic at its severity.
void LogDiagnostics(const Diagnostics& diags) {
  auto log = GetLogger("host");
  for (const auto& d : diags.list()) {
    if (d.severity == Diagnostic::Severity::kWarning) log->warn("{}", d.ToString());
    if (d.severity == Diagnostic::Severity::kError) log->error("{}", d.ToString());
  }
}

// Builds the graph with the declared environment overrides, logging every diagnostic;
// nullptr when it has errors.
std::shared_ptr<StageGraph> BuildServedGraph(const LoadedConfig& loaded) {
  Diagnostics diags;
  auto graph = StageGraph::Build(loaded.graph, /*dry_run=*/false, &diags, &loaded.env);
  LogDiagnostics(diags);
  if (graph.ok()) return std::move(*graph);
  return nullptr;
}

// SIGHUP: reads the YAML (and .env) again and, when it is valid and its new pipelines load,
// switches `server` to the graph it describes (graph_reload.h); otherwise logs why and keeps
// serving as before. `current` is the configuration serving, replaced on success.
void ReloadConfiguration(const ServeArgs& a, LoadedConfig* current, HttpServer* server) {
  auto log = GetLogger("host");
  log->info("received SIGHUP: reloading {}", a.config_path);
  std::ostringstream warnings;
  auto loaded = LoadConfigForCli(a.config_path, a.env_file, a.env_file_given, warnings);
  if (!loaded.ok()) {
    log->error("reload refused, still serving the previous configuration: {}",
               loaded.status().message());
    return;
  }
  std::string line;
  for (std::istringstream lines(warnings.str()); std::getline(lines, line);) log->warn("{}", line);
  Diagnostics diags;
  ReloadSummary summary;
  const std::shared_ptr<StageGraph> previous = server->state().graph();
  auto next = PrepareReload(*previous, loaded->graph, &loaded->env, &diags, &summary);
  LogDiagnostics(diags);
  Status switched = next.ok() ? server->ReplaceGraph(*next) : next.status();
  if (!switched.ok()) {
    log->error("reload refused, still serving the previous configuration: {}",
               switched.message());
    return;
  }
  for (const std::string& path : SettingsNeedingRestart(current->graph, loaded->graph)) {
    log->warn("reload: {} changed; it applies at the next restart", path);
  }
  log->info("reloaded {}: {}", a.config_path, summary.ToString());
  *current = std::move(*loaded);
}

// Written whole then renamed, so a script polling for it never reads half a number.
void WritePortFile(const std::string& path, uint16_t port) {
  std::ofstream out(path + ".tmp");
  out << port << "\n";
  out.close();
  std::rename((path + ".tmp").c_str(), path.c_str());
}

}  // namespace

int ServeCommand(const std::vector<std::string>& args) {
  FlagParser flags(args);
  const ServeArgs a = ParseServeArgs(flags);
  if (a.help) {
    std::cout << kServeHelp;
    return 0;
  }
  if (!flags.error().empty()) {
    std::cerr << "fluxserve serve: " << flags.error() << "\n\n" << kServeHelp;
    return 2;
  }
  sigset_t stop_signals = BlockStopSignals();
  auto loaded = LoadConfigForCli(a.config_path, a.env_file, a.env_file_given, std::cerr);
  if (!loaded.ok()) {
    std::cerr << "fluxserve: " << loaded.status().message() << "\n";
    return 1;
  }
  ServerOptions options;
  std::string listen_source;
  Status ready = ConfigureServeLogging(loaded->env, loaded->graph);
  if (ready.ok()) ready = ResolveListen(a.listen, loaded->env, loaded->graph, &options, &listen_source);
  if (!ready.ok()) {
    std::cerr << "fluxserve: " << ready.message() << "\n";
    return 1;
  }
  ApplyServerSection(loaded->env, loaded->graph, &options);

  auto log = GetLogger("host");
  log->info("fluxserve {} starting with {}", FLX_VERSION, a.config_path);
  std::shared_ptr<StageGraph> graph = BuildServedGraph(*loaded);
  if (!graph) return 1;
  graph->StartPrepare();
  auto server = std::make_unique<HttpServer>(std::move(graph), options);
  Status started = server->Start();
  if (!started.ok()) {
    log->error("{}: {}", listen_source, started.message());
    return 1;
  }
  if (!a.port_file.empty()) WritePortFile(a.port_file, server->port());

  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) == 0 && signal_number == SIGHUP) {
    ReloadConfiguration(a, &*loaded, server.get());
  }
  log->info("received {}; shutting down", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  server->Shutdown();
  server.reset();  // the last reference to the graph: the plugins unload here
  log->info("plugins unloaded; bye");
  return 0;
}

}  // namespace flx
