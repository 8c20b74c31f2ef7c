// Builds sdk/examples/length_scheduler the way a third party would, against the SDK installed
// from this build into a temporary prefix, then checks the library it produces: one exported
// symbol, and a working `by_length` scheduler when loaded through the ABI.
//
// Paths and tools come from the build (compile definitions), so the test runs the same
// toolchain that built the tree. The temporary directory is removed when the test passes and
// kept (its path printed) when it fails.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "fake_host.h"
#include "out_of_tree_build.h"

namespace flx::testing {
namespace {

namespace fs = std::filesystem;

TEST(SdkOutOfTreeTest, ThirdPartyPluginBuildsAgainstTheInstalledSdkAndLoads) {
  TempDir temp;
  ASSERT_FALSE(temp.path().empty()) << "mkdtemp failed";
  const fs::path prefix = temp.path() / "prefix";
  const fs::path build = temp.path() / "build";

  // 1. Install the SDK component only.
  const std::string install_error = InstallSdk(prefix);
  ASSERT_EQ(install_error, "");
  const fs::path sdk_config =
      prefix / FLX_TEST_INSTALL_LIBDIR / "cmake/flx_sdk/flx_sdkConfig.cmake";
  ASSERT_TRUE(fs::exists(sdk_config))
      << "`cmake --install --component sdk` did not install " << sdk_config
      << "; every install() rule in sdk/CMakeLists.txt needs COMPONENT sdk.";
  for (const std::string& file : ListFiles(prefix)) {
    const bool sdk_file =
        file.rfind("include/flx/", 0) == 0 ||
        file.rfind(std::string(FLX_TEST_INSTALL_LIBDIR) + "/cmake/flx_sdk/", 0) == 0;
    EXPECT_TRUE(sdk_file) << "the sdk component installed a non-SDK file: " << file;
  }

  // 2. Configure and build the example out of tree against that prefix.
  const std::string build_error = BuildExample("length_scheduler", prefix, build);
  ASSERT_EQ(build_error, "");
  const fs::path library = build / "flx_length_scheduler.so";
  ASSERT_TRUE(fs::exists(library)) << "the build did not produce " << library;

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
