#include "flux_test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace flx::test {

namespace fs = std::filesystem;

std::string BuildProgram(const std::string& name) {
  const char* dir = std::getenv("FLX_BIN_DIR");
  return dir != nullptr ? std::string(dir) + "/" + name : "";
}

std::string MakeDemoModel(const std::string& dir) {
  const std::string tool = BuildProgram("fluxserve-make-demo-model");
  if (tool.empty()) return "FLX_BIN_DIR is not set (run through ctest)";
  const std::string command = "'" + tool + "' '" + dir + "' --preset tiny --seed 7";
  std::string output;
  if (RunCommand(command, &output) != 0) return command + " failed:\n" + output;
  return "";
}

std::string FindOnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const fs::path candidate = fs::path(dir) / program;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

int RunCommand(const std::string& command, std::string* output) {
  output->clear();
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char chunk[4096];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof(chunk), pipe)) > 0) output->append(chunk, got);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::map<std::string, double> MetricSamples(const std::string& exposition) {
  std::map<std::string, double> samples;
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

}  // namespace flx::test
