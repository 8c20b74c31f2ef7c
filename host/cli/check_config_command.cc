// `fluxserve check-config FILE`: every layer a server start would run, without serving:
// syntax, schema, graph, plugin load, and each stage's create() in dry-run mode.
#include <iostream>

#include "cli/cli.h"
#include "config/diagnostics.h"
#include "jobs/shared_queue.h"
#include "logging.h"
#include "stage_graph.h"

namespace flx {
namespace {

const char* kCheckHelp =
    "usage: fluxserve check-config FILE [--env-file FILE] [--connect]\n"
    "\n"
    "Validates FILE as a server start would (syntax, schema, references, chain shapes,\n"
    "plugin loading, each stage's config via create() in dry-run mode) and reports every\n"
    "problem as file:line:col. Exit status 0 when valid (warnings allowed), 1 otherwise.\n"
    "  --connect   also reach the services the config names (the job_queue's Redis) and\n"
    "              fail when one does not answer\n";

// --connect: whether the job queue answers; prints what it found.
bool QueueAnswers(const StageGraph& graph, const std::string& file) {
  StageInstance* stage = graph.job_queue();
  if (stage == nullptr) return true;
  const Status status = SharedQueue(stage).Check();
  if (!status.ok()) {
    std::cout << file << ": job_queue '" << stage->id << "': " << status.message() << "\n";
    return false;
  }
  std::cout << file << ": job_queue '" << stage->id << "' answers\n";
  return true;
}

}  // namespace

int CheckConfigCommand(const std::vector<std::string>& args) {
  std::string file, env_file = ".env";
  bool env_file_given = false;
  bool connect = false;
  FlagParser flags(args);
  while (flags.Next()) {
    if (flags.Is("--help") || flags.Is("-h")) {
      std::cout << kCheckHelp;
      return 0;
    } else if (flags.Is("--env-file")) {
      env_file = flags.Value();
      env_file_given = true;
    } else if (flags.Is("--connect")) {
      connect = true;
    } else if (flags.IsPositional() && file.empty()) {
      file = flags.token();
    } else {
      flags.Fail("unexpected argument '" + flags.token() + "'");
    }
  }
  if (file.empty()) flags.Fail("missing FILE");
  if (!flags.error().empty()) {
    std::cerr << "fluxserve check-config: " << flags.error() << "\n\n" << kCheckHelp;
    return 2;
  }
  LogSettings quiet;
  quiet.level = "warn";
  ConfigureLogging(quiet);

  auto loaded = LoadConfigForCli(file, env_file, env_file_given, std::cout);
  if (!loaded.ok()) {
    std::cout << loaded.status().message() << "\n" << file << ": invalid\n";
    return 1;
  }
  Diagnostics diags;
  auto graph = StageGraph::Build(loaded->graph, /*dry_run=*/true, &diags, &loaded->env);
  std::cout << diags.ToString();
  if (!diags.list().empty() && diags.ToString().back() != '\n') std::cout << "\n";
  if (!graph.ok()) {
    std::cout << file << ": invalid\n";
    return 1;
  }
  if (connect && !QueueAnswers(**graph, file)) return 1;
  std::cout << file << ": OK (" << loaded->graph.stages.size() << " stages, "
            << loaded->graph.models.size() << " models)\n";
  return 0;
}

}  // namespace flx
