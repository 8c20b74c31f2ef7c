// Building an SDK example the way a third party would: the SDK component of this build
// installed into a temporary prefix, the example configured and built out of tree against
// it with the toolchain that built the tree (paths and tools come in as compile definitions).
#ifndef FLX_TESTS_ABI_SDK_OUT_OF_TREE_OUT_OF_TREE_BUILD_H_
#define FLX_TESTS_ABI_SDK_OUT_OF_TREE_OUT_OF_TREE_BUILD_H_

#include <filesystem>
#include <string>
#include <vector>

namespace flx::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs argv through the shell (each argument quoted), echoing the command.
CommandResult RunCommand(const std::vector<std::string>& argv);

// Files under `root`, relative to it, sorted.
std::vector<std::string> ListFiles(const std::filesystem::path& root);

// A temporary directory, removed when the test passes and kept (its path printed) when it
// fails.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Installs the SDK component of this build under `prefix`; empty on success, else what went
// wrong with the command's output.
std::string InstallSdk(const std::filesystem::path& prefix);

// Configures and builds sdk/examples/<example> in `build` against the SDK under `prefix`;
// empty on success, else the failing command's output.
std::string BuildExample(const std::string& example, const std::filesystem::path& prefix,
                         const std::filesystem::path& build);

}  // namespace flx::testing

#endif  // FLX_TESTS_ABI_SDK_OUT_OF_TREE_OUT_OF_TREE_BUILD_H_
