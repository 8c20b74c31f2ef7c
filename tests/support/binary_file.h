// Reads a whole file's bytes for tests that compare against reference binaries.
#ifndef FLX_TESTS_SUPPORT_BINARY_FILE_H_
#define FLX_TESTS_SUPPORT_BINARY_FILE_H_

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace flx::test {

// The bytes of `path`; a failed expectation (and no bytes) when it cannot be read.
inline std::vector<char> read_binary_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace flx::test

#endif  // FLX_TESTS_SUPPORT_BINARY_FILE_H_
