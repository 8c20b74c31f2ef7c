// golden.h — how tests find the reference outputs in /work/shared/golden without fixed paths.
//
// The golden root is env FLX_GOLDEN_DIR when set, else env FLX_GOLDEN_DIR_DEFAULT (which CTest
// sets from the CMake cache variable FLX_GOLDEN_DIR). Tests that need it skip, naming the path
// they looked at, when it is absent:
//
//   TEST(Parity, Cat) {
//     FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");   // std::string model_dir = <root>/tiny-flux
//     ...
//   }
#ifndef FLX_TESTS_SUPPORT_GOLDEN_H_
#define FLX_TESTS_SUPPORT_GOLDEN_H_

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace flx::test {

// The golden root the environment points at (not checked for existence); empty when neither
// variable is set.
inline std::string golden_root_candidate() {
  for (const char* variable : {"FLX_GOLDEN_DIR", "FLX_GOLDEN_DIR_DEFAULT"}) {
    const char* value = std::getenv(variable);
    if (value != nullptr && *value != '\0') return value;
  }
  return "";
}

// `relative` inside the golden root ("" for the root itself), or nullopt when that
// directory does not exist.
inline std::optional<std::string> golden_dir(const std::string& relative = "") {
  std::string path = golden_root_candidate();
  if (path.empty()) return std::nullopt;
  if (!relative.empty()) path += "/" + relative;
  struct stat info;
  if (stat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) return std::nullopt;
  return path;
}

}  // namespace flx::test

// Declares `std::string var` = the golden folder `relative`, or skips the current test with a
// message naming the path looked at. Usable in a TEST body or a fixture's SetUp().
#define FLX_GOLDEN_OR_SKIP(var, relative)                                                       \
  std::string var;                                                                              \
  if (auto flx_golden_found_ = ::flx::test::golden_dir(relative)) {                             \
    var = *flx_golden_found_;                                                                   \
  } else {                                                                                      \
    GTEST_SKIP() << "golden data not found at '" << ::flx::test::golden_root_candidate() << "/" \
                 << (relative)                                                                  \
                 << "' (set FLX_GOLDEN_DIR or the CMake cache variable FLX_GOLDEN_DIR)";        \
  }

#endif  // FLX_TESTS_SUPPORT_GOLDEN_H_
