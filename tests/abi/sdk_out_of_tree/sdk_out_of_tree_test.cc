// Builds sdk/examples/length_scheduler the way a third party would, against the SDK installed
// from this build into a temporary prefix, then checks the library it produces: one exported
// symbol, and a working `by_length` scheduler when loaded through the ABI.
//
// Paths and tools come from the build (compile definitions), so the test runs the same
// toolchain that built the tree. The temporary directory is removed when the test passes and
// kept (its path printed) when it fails.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "fake_host.h"

namespace flx::testing {
namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

std::string Quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

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

// Files under `root`, relative to it, sorted.
std::vector<std::string> ListFiles(const fs::path& root) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_directory()) files.push_back(fs::relative(entry.path(), root).string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "flx_sdk_out_of_tree.XXXXXX").string();
    if (mkdtemp(pattern.data())) path_ = pattern;
  }
  ~TempDir() {
    if (path_.empty()) return;
    if (::testing::Test::HasFailure()) {
      std::cout << "kept for inspection: " << path_ << std::endl;
    } else {
      std::error_code ignored;
      fs::remove_all(path_, ignored);
    }
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(SdkOutOfTreeTest, ThirdPartyPluginBuildsAgainstTheInstalledSdkAndLoads) {
  TempDir temp;
  ASSERT_FALSE(temp.path().empty()) << "mkdtemp failed";
  const fs::path prefix = temp.path() / "prefix";
  const fs::path build = temp.path() / "build";
  const fs::path example = fs::path(FLX_TEST_SOURCE_DIR) / "sdk/examples/length_scheduler";

  // 1. Install the SDK component only.
  CommandResult install = RunCommand({FLX_TEST_CMAKE, "--install", FLX_TEST_BUILD_DIR,
                                      "--component", "sdk", "--prefix", prefix.string()});
  ASSERT_EQ(install.exit_code, 0) << install.output;
  const fs::path sdk_config =
      prefix / FLX_TEST_INSTALL_LIBDIR / "cmake/flx_sdk/flx_sdkConfig.cmake";
  ASSERT_TRUE(fs::exists(sdk_config))
      << "`cmake --install --component sdk` did not install " << sdk_config
      << "; every install() rule in sdk/CMakeLists.txt needs COMPONENT sdk.\n"
      << install.output;
  for (const std::string& file : ListFiles(prefix)) {
    const bool sdk_file =
        file.rfind("include/flx/", 0) == 0 ||
        file.rfind(std::string(FLX_TEST_INSTALL_LIBDIR) + "/cmake/flx_sdk/", 0) == 0;
    EXPECT_TRUE(sdk_file) << "the sdk component installed a non-SDK file: " << file;
  }

  // 2. Configure and build the example out of tree against that prefix.
  std::vector<std::string> configure = {FLX_TEST_CMAKE,
                                        "-S",
                                        example.string(),
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
  CommandResult configured = RunCommand(configure);
  ASSERT_EQ(configured.exit_code, 0) << configured.output;
  CommandResult built = RunCommand({FLX_TEST_CMAKE, "--build", build.string()});
  ASSERT_EQ(built.exit_code, 0) << built.output;
  const fs::path library = build / "flx_length_scheduler.so";
  ASSERT_TRUE(fs::exists(library)) << "the build did not produce " << library << "\n"
                                   << built.output;

  // 3. Exactly one dynamic symbol is defined: the entry point.
  CommandResult symbols = RunCommand({FLX_TEST_NM, "-D", "--defined-only", library.string()});
  ASSERT_EQ(symbols.exit_code, 0) << symbols.output;
  std::vector<std::string> names;
  std::istringstream lines(symbols.output);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string address, type, name;
    if (fields >> address >> type >> name) names.push_back(name);
  }
  EXPECT_EQ(names, std::vector<std::string>{"flx_plugin_init"}) << symbols.output;

  // 4. Load it like the host does and use the scheduler.
  std::cout << "+ dlopen(" << library << ", RTLD_NOW | RTLD_LOCAL) and flx_plugin_init"
            << std::endl;
  std::string why;
  std::unique_ptr<LoadedPlugin> plugin = LoadedPlugin::Open(library.string(), &why);
  ASSERT_TRUE(plugin) << why;
  EXPECT_EQ(plugin->info().abi_major, uint32_t{FLX_ABI_MAJOR});
  ASSERT_EQ(plugin->info().n_factories, 1u);
  const flx_factory& factory = *plugin->info().factories[0];
  EXPECT_EQ(factory.kind, FLX_KIND_SCHEDULER);
  EXPECT_STREQ(factory.type_name, "by_length");
  EXPECT_EQ(factory.flags & FLX_FLAG_THREADSAFE, FLX_FLAG_THREADSAFE);

  flx_host host;
  flx_config config;
  config.scalars["max_prompt_chars"] = "5";
  ErrorPtr error;
  std::unique_ptr<Instance> scheduler = Instance::Create(factory, host, config, &error);
  ASSERT_TRUE(scheduler) << Describe(error.get());
  EXPECT_EQ(scheduler->Describe(&error), R"({"type":"by_length","max_prompt_chars":5})");

  const auto& iface = scheduler->iface<flx_scheduler_iface>();
  flx_admission admission{sizeof(flx_admission), "pipe", 0};
  struct Case {
    const char* prompt;
    bool admitted;
  };
  for (const Case& c : {Case{"", true}, Case{"short", true}, Case{"\xC3\xA9t\xC3\xA9s!", true},
                        Case{"longer", false}}) {
    flx_request request = DefaultRequest(c.prompt, nullptr);
    flx_ticket* ticket = nullptr;
    ErrorPtr refusal(iface.admit(scheduler->self(), &request, &admission, &ticket));
    if (c.admitted) {
      EXPECT_FALSE(refusal) << "prompt \"" << c.prompt << "\": " << Describe(refusal.get());
      iface.release(scheduler->self(), ticket, 0.1);
    } else {
      ASSERT_TRUE(refusal) << "prompt \"" << c.prompt << "\" was admitted";
      EXPECT_EQ(refusal->code, FLX_INVALID_ARGUMENT) << Describe(refusal.get());
      EXPECT_EQ(refusal->details["param"], "prompt") << Describe(refusal.get());
    }
  }
}

}  // namespace
}  // namespace flx::testing
