// Golden tests for configuration diagnostics. Cases are discovered by listing
// $FLX_SOURCE_DIR/tests/configs/{bad,good}; see tests/configs/README.md. With
// FLX_UPDATE_GOLDEN=1 the bad cases' .expected files are rewritten from the current output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/graph_config.h"

namespace flx {
namespace {

namespace fs = std::filesystem;

// The variables every case sees, so expectations never depend on the machine's environment.
Environment GoldenEnvironment() {
  return Environment::FromMap(
      {{"FLX_TEST_SET", "set-value"}, {"FLX_TEST_EMPTY", ""}, {"FLX_TEST_PORT", "8080"}});
}

bool UpdateRequested() {
  const char* update = std::getenv("FLX_UPDATE_GOLDEN");
  return update != nullptr && std::string(update) == "1";
}

// $FLX_SOURCE_DIR/tests/configs/<kind>, or "" (with a test failure) when unknown.
std::string CasesDir(const std::string& kind) {
  const char* source = std::getenv("FLX_SOURCE_DIR");
  if (source == nullptr || *source == '\0') {
    ADD_FAILURE() << "FLX_SOURCE_DIR is not set; run through ctest, or set it to the checkout";
    return "";
  }
  return (fs::path(source) / "tests" / "configs" / kind).string();
}

// The files in `dir` ending in `extension`, sorted by name.
std::vector<fs::path> FilesWithExtension(const std::string& dir, const std::string& extension) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == extension) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Diagnostics for one case file, named by its base name so expectations do not depend on
// where the checkout lives; one per line, each line ending in '\n'.
struct CaseResult {
  bool ok = false;
  Diagnostics diags;
  std::string text;
};

CaseResult ValidateCase(const fs::path& yaml) {
  CaseResult result;
  StatusOr<GraphConfig> parsed = ParseGraphConfig(ReadFile(yaml), yaml.filename().string(),
                                                  GoldenEnvironment(), &result.diags);
  result.ok = parsed.ok();
  result.text = result.diags.empty() ? "" : result.diags.ToString() + "\n";
  return result;
}

TEST(BadConfigGoldenTest, DiagnosticsMatchExpectations) {
  const std::string dir = CasesDir("bad");
  if (dir.empty()) return;
  const std::vector<fs::path> cases = FilesWithExtension(dir, ".yaml");
  ASSERT_FALSE(cases.empty()) << "no cases found in " << dir;
  const bool update = UpdateRequested();
  for (const fs::path& yaml : cases) {
    SCOPED_TRACE(yaml.filename().string());
    CaseResult result = ValidateCase(yaml);
    EXPECT_FALSE(result.diags.empty()) << "a bad case must produce diagnostics";
    EXPECT_EQ(result.ok, !result.diags.has_errors());
    fs::path expected_path = fs::path(yaml).replace_extension(".expected");
    if (update) {
      std::ofstream(expected_path, std::ios::binary | std::ios::trunc) << result.text;
      continue;
    }
    if (!fs::exists(expected_path)) {
      ADD_FAILURE() << expected_path.string()
                    << " is missing; run with FLX_UPDATE_GOLDEN=1 to create it, then review it";
      continue;
    }
    EXPECT_EQ(result.text, ReadFile(expected_path))
        << "diagnostics of " << yaml.string() << " differ from " << expected_path.string();
  }
}

TEST(BadConfigGoldenTest, EveryExpectationHasACase) {
  const std::string dir = CasesDir("bad");
  if (dir.empty()) return;
  for (const fs::path& expected : FilesWithExtension(dir, ".expected")) {
    EXPECT_TRUE(fs::exists(fs::path(expected).replace_extension(".yaml")))
        << expected.string() << " has no .yaml case beside it";
  }
}

TEST(GoodConfigGoldenTest, ValidateWithoutDiagnostics) {
  const std::string dir = CasesDir("good");
  if (dir.empty()) return;
  const std::vector<fs::path> cases = FilesWithExtension(dir, ".yaml");
  ASSERT_FALSE(cases.empty()) << "no cases found in " << dir;
  for (const fs::path& yaml : cases) {
    CaseResult result = ValidateCase(yaml);
    EXPECT_TRUE(result.ok) << yaml.string();
    EXPECT_EQ(result.text, "") << yaml.string();
  }
}

}  // namespace
}  // namespace flx
