#include "model/tensor_dump.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace flx::flux {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class TensorDumpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "flx_flux_model_dump_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string root_;
};

TEST_F(TensorDumpTest, WritesRawLittleEndianDataAndSidecars) {
  const TensorDump dump(root_ + "/nested/dir");
  dump.write("floats", at::tensor({1.5, -2.0, 3.0, 4.0}, at::kDouble).view({2, 2}).t());
  dump.write("ids", at::tensor({7, 49407}, at::kLong).view({1, 2}));

  EXPECT_EQ(read_file(root_ + "/nested/dir/floats.json"),
            "{\"dtype\": \"float32\", \"shape\": [2, 2]}\n");
  const std::string floats = read_file(root_ + "/nested/dir/floats.bin");
  ASSERT_EQ(floats.size(), 16u);
  float values[4];
  std::memcpy(values, floats.data(), sizeof values);
  EXPECT_EQ(values[0], 1.5f);
  EXPECT_EQ(values[1], 3.0f) << "transposed input must be written in C order";
  EXPECT_EQ(values[2], -2.0f);

  EXPECT_EQ(read_file(root_ + "/nested/dir/ids.json"),
            "{\"dtype\": \"int32\", \"shape\": [1, 2]}\n");
  const std::string ids = read_file(root_ + "/nested/dir/ids.bin");
  ASSERT_EQ(ids.size(), 8u);
  int32_t id_values[2];
  std::memcpy(id_values, ids.data(), sizeof id_values);
  EXPECT_EQ(id_values[1], 49407);
}

TEST_F(TensorDumpTest, ScalarShapeIsEmpty) {
  TensorDump(root_).write("scalar", at::scalar_tensor(2.0));
  EXPECT_EQ(read_file(root_ + "/scalar.json"), "{\"dtype\": \"float32\", \"shape\": []}\n");
}

}  // namespace
}  // namespace flx::flux
