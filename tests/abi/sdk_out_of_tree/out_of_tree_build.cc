#include "out_of_tree_build.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <iostream>

namespace flx::testing {

namespace fs = std::filesystem;

namespace {

std::string Quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv) {
  std::string command;
  for (const std::string& arg : argv) command += (command.empty() ? "" : " ") + Quote(arg);
  std::cout << "+ " << command << std::endl;
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> chunk;
  size_t n = 0;
  while ((n = fread(chunk.data(), 1, chunk.size(), pipe)) > 0)
    result.output.append(chunk.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::vector<std::string> ListFiles(const fs::path& root) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_directory()) files.push_back(fs::relative(entry.path(), root).string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "flx_sdk_out_of_tree.XXXXXX").string();
  if (mkdtemp(pattern.data())) path_ = pattern;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  if (::testing::Test::HasFailure()) {
    std::cout << "kept for inspection: " << path_ << std::endl;
  } else {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
}

std::string InstallSdk(const fs::path& prefix) {
  const CommandResult install = RunCommand({FLX_TEST_CMAKE, "--install", FLX_TEST_BUILD_DIR,
                                            "--component", "sdk", "--prefix", prefix.string()});
  return install.exit_code == 0 ? "" : "installing the SDK failed:\n" + install.output;
}

std::string BuildExample(const std::string& example, const fs::path& prefix,
                         const fs::path& build) {
  const fs::path source = fs::path(FLX_TEST_SOURCE_DIR) / "sdk/examples" / example;
  std::vector<std::string> configure = {FLX_TEST_CMAKE,
                                        "-S",
                                        source.string(),
                                        "-B",
                                        build.string(),
                                        "-G",
                                        FLX_TEST_GENERATOR,
                                        "-DCMAKE_BUILD_TYPE=Release",
                                        "-DCMAKE_CXX_COMPILER=" FLX_TEST_CXX_COMPILER,
                                        "-DCMAKE_PREFIX_PATH=" + prefix.string()};
  if (std::string(FLX_TEST_CXX_COMPILER_LAUNCHER).size() > 0) {
    configure.push_back("-DCMAKE_CXX_COMPILER_LAUNCHER=" FLX_TEST_CXX_COMPILER_LAUNCHER);
  }
  const CommandResult configured = RunCommand(configure);
  if (configured.exit_code != 0) return "configuring failed:\n" + configured.output;
  const CommandResult built = RunCommand({FLX_TEST_CMAKE, "--build", build.string()});
  return built.exit_code == 0 ? "" : "building failed:\n" + built.output;
}

}  // namespace flx::testing
