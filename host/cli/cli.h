// The fluxserve command line: `fluxserve <command> [options]`.
//
//   serve          run the HTTP server from a YAML graph
//   check-config   validate a YAML graph through every layer (syntax .. plugin create)
//   --version, --help
// Commands of plugins that add them (generate, make-demo-model, bench) are listed by --help.
#ifndef FLX_HOST_CLI_CLI_H_
#define FLX_HOST_CLI_CLI_H_

#include <iosfwd>
#include <string>
#include <vector>

#include "config/environment.h"
#include "config/graph_config.h"
#include "status.h"

namespace flx {

// Runs the command line; returns the process exit code.
int RunCli(int argc, char** argv);

// Commands; `args` excludes the program and command names.
int ServeCommand(const std::vector<std::string>& args);
int CheckConfigCommand(const std::vector<std::string>& args);
int GenerateCommand(const std::vector<std::string>& args);

// Shared by commands: the environment (process + .env) and the graph config from `path`,
// with defaults applied (plugin search paths: FLUX_PLUGIN_PATH, the YAML's plugin_paths, the
// build tree next to the executable, the install directory). The variables plugins declare
// apply when the graph is built (StageGraph::Build with &env). Diagnostics go to `err`.
struct LoadedConfig {
  Environment env;
  GraphConfig graph;
};
StatusOr<LoadedConfig> LoadConfigForCli(const std::string& config_path,
                                        const std::string& env_file, bool env_file_required,
                                        std::ostream& err);

// Where plugins are looked for, in order: $FLUX_PLUGIN_PATH (colon-separated), `configured`
// (the YAML's plugin_paths), <executable dir>/../plugins (the build tree),
// <executable dir>/../lib/fluxserve/plugins (an install prefix), the configured install dir.
std::vector<std::string> PluginSearchPaths(const Environment& env,
                                           const std::vector<std::string>& configured);

// The directory holding the running executable ("" if unknown).
std::string ExecutableDir();

// A tiny flag reader: --name VALUE or --name=VALUE; unknown flags are errors.
class FlagParser {
 public:
  explicit FlagParser(std::vector<std::string> args) : args_(std::move(args)) {}
  // Reads the next token. Returns false at the end.
  bool Next();
  bool Is(const char* flag) const;  // the current token is this flag (either form)
  // The value of the current flag; sets error() when missing.
  std::string Value();
  bool IsPositional() const;
  const std::string& token() const { return token_; }
  const std::string& error() const { return error_; }
  void Fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }

 private:
  std::vector<std::string> args_;
  size_t index_ = 0;
  std::string token_;
  std::string inline_value_;
  bool has_inline_ = false;
  std::string error_;
};

}  // namespace flx

#endif  // FLX_HOST_CLI_CLI_H_
