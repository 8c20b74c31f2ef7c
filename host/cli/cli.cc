#include "cli/cli.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "config/diagnostics.h"

#ifndef FLX_VERSION
#define FLX_VERSION "0.0.0"
#endif
#ifndef FLX_DEFAULT_PLUGIN_DIR
#define FLX_DEFAULT_PLUGIN_DIR "/usr/local/lib/fluxserve/plugins"
#endif
#ifndef FLX_PLUGIN_INSTALL_SUBDIR
#define FLX_PLUGIN_INSTALL_SUBDIR "lib/fluxserve/plugins"
#endif

namespace flx {
namespace {

const char* kUsage =
    "usage: fluxserve <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve          run the server            (fluxserve serve --help)\n"
    "  check-config   validate a YAML graph     (fluxserve check-config --help)\n"
    "  generate       make images from the command line (fluxserve generate --help)\n"
    "  make-demo-model  write a small random-weight FLUX checkpoint (pipeline-flux tool)\n"
    "  bench          benchmark the pipeline against the machine's roof (pipeline-flux tool)\n"
    "  quantize       write a checkpoint as a quantized GGUF (pipeline-flux tool)\n"
    "\n"
    "options:\n"
    "  --version      print the version and the plugin ABI version\n"
    "  --help         this text\n";

}  // namespace

bool FlagParser::Next() {
  if (index_ >= args_.size()) return false;
  token_ = args_[index_++];
  has_inline_ = false;
  if (token_.rfind("--", 0) == 0) {
    auto eq = token_.find('=');
    if (eq != std::string::npos) {
      inline_value_ = token_.substr(eq + 1);
      token_ = token_.substr(0, eq);
      has_inline_ = true;
    }
  }
  return true;
}

bool FlagParser::Is(const char* flag) const { return token_ == flag; }

bool FlagParser::IsPositional() const { return token_.empty() || token_[0] != '-'; }

std::string FlagParser::Value() {
  if (has_inline_) return inline_value_;
  if (index_ >= args_.size()) {
    Fail(token_ + " needs a value");
    return "";
  }
  return args_[index_++];
}

std::string ExecutableDir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string path(buf, size_t(n));
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

StatusOr<LoadedConfig> LoadConfigForCli(const std::string& config_path,
                                        const std::string& env_file, bool env_file_required,
                                        std::ostream& err) {
  LoadedConfig out{Environment::FromProcess(), {}};
  Status env_status = out.env.LoadDotEnv(env_file, env_file_required);
  if (!env_status.ok()) return env_status;
  Diagnostics diags;
  auto graph = LoadGraphConfig(config_path, out.env, &diags);
  // A failed load's status lists every diagnostic, warnings included: print them once.
  if (!graph.ok()) return graph.status();
  for (const auto& d : diags.list()) {
    if (d.severity == Diagnostic::Severity::kWarning) err << d.ToString() << "\n";
  }
  out.graph = std::move(*graph);

  out.graph.plugin_paths = PluginSearchPaths(out.env, out.graph.plugin_paths);
  return out;
}

std::vector<std::string> PluginSearchPaths(const Environment& env,
                                           const std::vector<std::string>& configured) {
  std::vector<std::string> paths;
  if (auto env_paths = env.Get("FLUX_PLUGIN_PATH")) {
    std::stringstream ss(*env_paths);
    std::string item;
    while (std::getline(ss, item, ':')) {
      if (!item.empty()) paths.push_back(item);
    }
  }
  for (const auto& p : configured) paths.push_back(p);
  std::string exe_dir = ExecutableDir();
  if (!exe_dir.empty()) {
    paths.push_back(exe_dir + "/../plugins");                    // build tree: build/bin
    paths.push_back(exe_dir + "/../" FLX_PLUGIN_INSTALL_SUBDIR);  // an installed, moved prefix
  }
  paths.push_back(FLX_DEFAULT_PLUGIN_DIR);
  return paths;
}

int RunCli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "--version" || command == "version") {
    std::cout << "fluxserve " << FLX_VERSION << " (plugin ABI " << FLX_ABI_MAJOR << "."
              << FLX_ABI_MINOR << ")\n";
    return 0;
  }
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "serve") return ServeCommand(rest);
  if (command == "check-config") return CheckConfigCommand(rest);
  if (command == "generate") return GenerateCommand(rest);
  // Other commands come from plugins as executables named fluxserve-<command> beside this
  // one (git-style), so the host never links what they need (libtorch).
  std::string exe_dir = ExecutableDir();
  if (!exe_dir.empty() && command.find('/') == std::string::npos && command[0] != '-') {
    std::string tool = exe_dir + "/fluxserve-" + command;
    if (::access(tool.c_str(), X_OK) == 0) {
      std::vector<char*> tool_argv;
      tool_argv.push_back(tool.data());
      for (int i = 2; i < argc; ++i) tool_argv.push_back(argv[i]);
      tool_argv.push_back(nullptr);
      ::execv(tool.c_str(), tool_argv.data());
      std::cerr << "fluxserve: cannot run " << tool << ": " << std::strerror(errno) << "\n";
      return 1;
    }
  }
  std::cerr << "fluxserve: unknown command '" << command << "'\n\n" << kUsage;
  return 2;
}

}  // namespace flx
