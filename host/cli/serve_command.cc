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
    "environment: FLUX_CONFIG, FLUX_LISTEN, FLUX_API_KEYS (comma-separated bearer tokens, added\n"
    "to server.api_keys), FLUX_LOG_LEVEL, FLUX_STRUCTURED_LOGS, FLUX_PLUGIN_PATH\n";

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

}  // namespace

int ServeCommand(const std::vector<std::string>& args) {
  std::string config_path, listen, env_file = ".env", port_file;
  bool env_file_given = false;
  FlagParser flags(args);
  while (flags.Next()) {
    if (flags.Is("--help") || flags.Is("-h")) {
      std::cout << kServeHelp;
      return 0;
    } else if (flags.Is("--config")) {
      config_path = flags.Value();
    } else if (flags.Is("--listen")) {
      listen = flags.Value();
    } else if (flags.Is("--env-file")) {
      env_file = flags.Value();
      env_file_given = true;
    } else if (flags.Is("--port-file")) {
      port_file = flags.Value();
    } else {
      flags.Fail("unknown option '" + flags.token() + "'");
    }
  }
  if (!flags.error().empty()) {
    std::cerr << "fluxserve serve: " << flags.error() << "\n\n" << kServeHelp;
    return 2;
  }

  // Signals are handled by sigwait() on this thread: block them before any thread starts
  // so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  if (config_path.empty()) {
    const char* from_env = std::getenv("FLUX_CONFIG");
    config_path = from_env && *from_env ? from_env : "configs/default.yaml";
  }
  auto loaded = LoadConfigForCli(config_path, env_file, env_file_given, std::cerr);
  if (!loaded.ok()) {
    std::cerr << "fluxserve: " << loaded.status().message() << "\n";
    return 1;
  }
  GraphConfig& graph_config = loaded->graph;
  const Environment& env = loaded->env;

  LogSettings log_settings;
  log_settings.level = env.Get("FLUX_LOG_LEVEL").value_or(graph_config.logging.level);
  log_settings.json = graph_config.logging.format == "json";
  if (auto structured = env.Get("FLUX_STRUCTURED_LOGS"); structured && !structured->empty()) {
    StatusOr<bool> json = ParseBoolean(*structured);
    if (!json.ok()) {
      std::cerr << "fluxserve: FLUX_STRUCTURED_LOGS: " << json.status().message() << "\n";
      return 1;
    }
    log_settings.json = *json;
  }
  Status logging = ConfigureLogging(log_settings);
  if (!logging.ok()) {
    std::cerr << "fluxserve: FLUX_LOG_LEVEL: " << logging.message() << "\n";
    return 1;
  }
  auto log = GetLogger("host");

  ServerOptions options;
  std::string listen_text = listen;
  std::string listen_source = "--listen";
  if (listen_text.empty()) {
    if (auto l = env.Get("FLUX_LISTEN"); l && !l->empty()) {
      listen_text = *l;
      listen_source = "FLUX_LISTEN";
    } else {
      listen_text = graph_config.server.listen;
      listen_source = graph_config.server.listen_location.file + ":" +
                      std::to_string(graph_config.server.listen_location.line) + ": server.listen";
    }
  }
  Status parsed = ParseListen(listen_text, &options.host, &options.port);
  if (!parsed.ok()) {
    std::cerr << "fluxserve: " << listen_source << ": " << parsed.message() << "\n";
    return 1;
  }
  options.max_body_bytes = graph_config.server.max_body_bytes;
  options.threads = graph_config.server.threads;
  options.max_queued_connections = graph_config.server.max_queued_connections;
  options.shutdown_grace_s = graph_config.server.shutdown_grace_s;
  options.header_timeout_s = graph_config.server.header_timeout_s;
  options.body_timeout_s = graph_config.server.body_timeout_s;
  options.output_dir = graph_config.server.output_dir;
  options.public_base_url = graph_config.server.public_base_url;
  options.api_keys = graph_config.server.api_keys;
  if (auto keys = env.Get("FLUX_API_KEYS")) {
    std::stringstream ss(*keys);
    std::string key;
    while (std::getline(ss, key, ',')) {
      if (!key.empty()) options.api_keys.push_back(key);
    }
  }

  log->info("fluxserve {} starting with {}", FLX_VERSION, config_path);
  for (const std::string& line : loaded->env_overrides) log->info("{}", line);
  Diagnostics diags;
  auto graph = StageGraph::Build(graph_config, /*dry_run=*/false, &diags);
  for (const auto& d : diags.list()) {
    if (d.severity == Diagnostic::Severity::kWarning) log->warn("{}", d.ToString());
  }
  if (!graph.ok()) {
    for (const auto& d : diags.list()) {
      if (d.severity == Diagnostic::Severity::kError) log->error("{}", d.ToString());
    }
    return 1;
  }
  (*graph)->StartPrepare();

  HttpServer server(graph->get(), options);
  Status started = server.Start();
  if (!started.ok()) {
    log->error("{}: {}", listen_source, started.message());
    return 1;
  }
  if (!port_file.empty()) {
    std::ofstream out(port_file + ".tmp");
    out << server.port() << "\n";
    out.close();
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  log->info("received {}; shutting down", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  server.Shutdown();
  graph->reset();
  log->info("plugins unloaded; bye");
  return 0;
}

}  // namespace flx
