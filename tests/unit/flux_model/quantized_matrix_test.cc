// Linear layers over quantized weights: kept quantized (zero-copy) by default, expanded per
// call to exactly the dequantized values, and the same output as the float weight.
#include "model/quantized_matrix.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "io/dequantize.h"
#include "io/quantize.h"
#include "model/layers.h"
#include "model/weights.h"

namespace flx::flux {
namespace {

// A [rows, 32] Q8_0 matrix: per row one block, scale 0.5 (fp16 0x3800), codes row*3 + j - 16.
TensorView q8_matrix(int64_t rows) {
  std::vector<uint8_t> bytes;
  for (int64_t r = 0; r < rows; ++r) {
    bytes.push_back(0x00);
    bytes.push_back(0x38);
    for (int j = 0; j < 32; ++j) bytes.push_back(static_cast<uint8_t>(static_cast<int8_t>(r * 3 + j - 16)));
  }
  return make_owned_tensor("w.weight", DType::Q8_0, {rows, 32}, bytes.data(), bytes.size());
}

TEST(QuantizedMatrix, MaterializesTheExactValues) {
  const QuantizedMatrix matrix(q8_matrix(3), at::kFloat, at::kCPU);
  const at::Tensor dense = matrix.materialize();
  ASSERT_EQ(dense.sizes(), at::IntArrayRef({3, 32}));
  for (int64_t r = 0; r < 3; ++r) {
    for (int64_t j = 0; j < 32; ++j) {
      EXPECT_EQ(dense[r][j].item<float>(), 0.5f * static_cast<float>(r * 3 + j - 16));
    }
  }
  EXPECT_EQ(matrix.stored_bytes(), 3u * 34);
  EXPECT_EQ(QuantizedMatrix(q8_matrix(2), at::kBFloat16, at::kCPU).materialize().scalar_type(),
            at::kBFloat16);
}

// 16-bit compute dtypes are filled a few rows at a time without a float32 matrix; every value
// must round exactly as converting the float32 dequantization would.
TEST(QuantizedMatrix, SixteenBitMaterializationRoundsLikeTensorTo) {
  constexpr int64_t kRows = 37, kCols = 512;  // rows not a multiple of any pass or grain
  std::vector<float> values(kRows * kCols);
  for (size_t i = 0; i < values.size(); ++i) values[i] = std::sin(0.37 * i) * 3.1f + 0.01f * i;
  std::vector<unsigned char> bytes(*tensor_bytes(DType::Q4_K, {kRows, kCols}));
  quantize(DType::Q4_K, values.data(), kRows * kCols, bytes.data());
  const TensorView view =
      make_owned_tensor("w.weight", DType::Q4_K, {kRows, kCols}, bytes.data(), bytes.size());
  const at::Tensor reference = dequantized_tensor(view);
  for (const c10::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
    const at::Tensor dense = QuantizedMatrix(view, dtype, at::kCPU).materialize();
    ASSERT_EQ(dense.scalar_type(), dtype);
    EXPECT_TRUE(dense.equal(reference.to(dtype))) << c10::toString(dtype);
  }
}

TEST(QuantizedMatrix, ScaledFp8UsesItsScale) {
  const uint8_t codes[2] = {0x38, 0xC0};  // 1.0, -2.0
  TensorView view = make_owned_tensor("f.weight", DType::F8_E4M3, {1, 2}, codes, 2);
  view.scale = 0.25f;
  const at::Tensor dense = QuantizedMatrix(view, at::kFloat, at::kCPU).materialize();
  EXPECT_EQ(dense[0][0].item<float>(), 0.25f);
  EXPECT_EQ(dense[0][1].item<float>(), -0.5f);
}

TEST(QuantizedMatrix, RefusesWhatIsNotAQuantizedMatrix) {
  const float values[2] = {1, 2};
  EXPECT_THROW(QuantizedMatrix(make_owned_tensor("x", DType::F32, {1, 2}, values, 8), at::kFloat,
                               at::kCPU),
               LoadError);
}

TEST(QuantizedLinear, KeptQuantizedAndEqualToTheFloatLayer) {
  TensorStore store("q8 store");
  store.add(q8_matrix(4));
  const std::vector<float> bias{1, 2, 3, 4};
  store.add(make_owned_tensor("w.bias", DType::F32, {4}, bias.data(), 16));
  const Weights weights(store, at::kFloat, at::kCPU);
  const Linear quantized = Linear::load(weights, "w", 32, 4);
  ASSERT_NE(quantized.quantized, nullptr);
  EXPECT_FALSE(quantized.weight.defined()) << "the float weight is not kept";
  const Linear dense = Linear::load(weights.keep_quantized(false), "w", 32, 4);
  ASSERT_EQ(dense.quantized, nullptr);
  const at::Tensor x = at::arange(64, at::kFloat).reshape({2, 32}) / 7;
  EXPECT_TRUE(at::equal(quantized(x), dense(x)));
}

TEST(QuantizedLinear, ShapeMismatchNamesTheTensor) {
  TensorStore store("q8 store");
  store.add(q8_matrix(4));
  const Weights weights(store, at::kFloat, at::kCPU);
  try {
    Linear::load(weights, "w", 64, 4, false);
    FAIL();
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("w.weight"), std::string::npos) << e.what();
  }
}


TEST(QuantizeOnLoad, FloatMatricesAreQuantizedExceptTheKeptOnes) {
  TensorStore store("float store");
  std::vector<float> values(4 * 64);
  for (size_t i = 0; i < values.size(); ++i) values[i] = std::cos(0.1f * i) * 3;
  for (const char* name : {"blocks.0.w.weight", "proj_out.weight"}) {
    store.add(make_owned_tensor(name, DType::F32, {4, 64}, values.data(), values.size() * 4));
  }
  store.add(make_owned_tensor("odd.weight", DType::F32, {8, 32}, values.data(), 8 * 32 * 4));
  const Weights weights = Weights(store, at::kFloat, at::kCPU)
                              .quantize_on_load(QuantizeOnLoad{DType::Q8_0, {"proj_out."}});
  const auto quantized = weights.get_quantized("blocks.0.w.weight", {4, 64});
  ASSERT_NE(quantized, nullptr);
  EXPECT_EQ(quantized->storage_type(), DType::Q8_0);
  EXPECT_EQ(quantized->stored_bytes(), 4u * 2 * 34);
  std::vector<uint8_t> packed(4 * 2 * 34);
  quantize(DType::Q8_0, values.data(), 256, packed.data());
  std::vector<float> expected(256);
  dequantize(DType::Q8_0, packed.data(), 256, expected.data());
  const at::Tensor dense = quantized->materialize();
  EXPECT_EQ(std::memcmp(dense.data_ptr<float>(), expected.data(), 256 * 4), 0);
  EXPECT_EQ(weights.get_quantized("proj_out.weight", {4, 64}), nullptr) << "kept float by prefix";
  const Weights q4 = Weights(store, at::kFloat, at::kCPU).quantize_on_load({DType::Q4_K, {}});
  EXPECT_EQ(q4.get_quantized("odd.weight", {8, 32}), nullptr) << "rows of 32 split a Q4_K block";
  EXPECT_EQ(Weights(store, at::kFloat, at::kCPU).get_quantized("blocks.0.w.weight", {4, 64}),
            nullptr)
      << "no policy, no quantization";
}

}  // namespace
}  // namespace flx::flux
