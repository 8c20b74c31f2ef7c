// Bit-exact dequantization against ggml's own output (../shared/golden/tiny-flux-quant/
// dequant_vectors: ggml_quantize_chunk of a fixed input, then ggml's to_float), plus the
// fp8 and half-precision conversions on hand-checked values.
#include "io/dequantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "io/gguf.h"
#include "support/binary_file.h"
#include "support/golden.h"

namespace flx::flux {
namespace {

using flx::test::read_binary_file;

// Counts values whose bits differ (NaN payloads included).
int bit_mismatches(const std::vector<float>& ours, const std::vector<char>& expected) {
  EXPECT_EQ(ours.size() * 4, expected.size());
  int mismatches = 0;
  for (size_t i = 0; i < ours.size() && 4 * i + 4 <= expected.size(); ++i) {
    mismatches += std::memcmp(&ours[i], expected.data() + 4 * i, 4) != 0;
  }
  return mismatches;
}

struct VectorCase {
  const char* name;
  DType dtype;
};

const VectorCase kVectorCases[] = {
    {"F32", DType::F32},   {"F16", DType::F16},   {"BF16", DType::BF16}, {"Q8_0", DType::Q8_0},
    {"Q4_0", DType::Q4_0}, {"Q4_1", DType::Q4_1}, {"Q5_0", DType::Q5_0}, {"Q5_1", DType::Q5_1},
    {"Q2_K", DType::Q2_K}, {"Q3_K", DType::Q3_K}, {"Q4_K", DType::Q4_K}, {"Q5_K", DType::Q5_K},
    {"Q6_K", DType::Q6_K}, {"F8_E4M3", DType::F8_E4M3},
};

constexpr int64_t kVectorValues = 4 * 512;

TEST(Dequantize, EveryTypeMatchesGgmlBitForBit) {
  FLX_GOLDEN_OR_SKIP(dir, "tiny-flux-quant/dequant_vectors");
  for (const VectorCase& c : kVectorCases) {
    const std::vector<char> quantized = read_binary_file(dir + "/" + c.name + ".q");
    ASSERT_EQ(quantized.size(), *tensor_bytes(c.dtype, {4, 512})) << c.name;
    std::vector<float> values(kVectorValues);
    dequantize(c.dtype, quantized.data(), kVectorValues, values.data());
    EXPECT_EQ(bit_mismatches(values, read_binary_file(dir + "/" + c.name + ".deq.f32")), 0) << c.name;
  }
}

TEST(Dequantize, ScaledFp8IsOneFloat32MultiplyPerValue) {
  FLX_GOLDEN_OR_SKIP(dir, "tiny-flux-quant/dequant_vectors");
  const std::vector<char> quantized = read_binary_file(dir + "/F8_E4M3_scaled.q");
  const uint32_t scale_bits = 0x3f3b277f;  // index.json: scale_weight_f32_hex
  float scale;
  std::memcpy(&scale, &scale_bits, 4);
  std::vector<float> values(kVectorValues);
  dequantize_scaled_fp8(DType::F8_E4M3, quantized.data(), kVectorValues, scale, values.data());
  EXPECT_EQ(bit_mismatches(values, read_binary_file(dir + "/F8_E4M3_scaled.deq.f32")), 0);
}

TEST(Dequantize, E4m3TableMatchesAllCodes) {
  FLX_GOLDEN_OR_SKIP(dir, "tiny-flux-quant/dequant_vectors");
  const std::vector<char> table = read_binary_file(dir + "/F8_E4M3.table.f32");
  ASSERT_EQ(table.size(), 256u * 4);
  for (int code = 0; code < 256; ++code) {
    float expected;
    std::memcpy(&expected, table.data() + 4 * code, 4);
    const float ours = e4m3fn_to_float(static_cast<uint8_t>(code));
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(ours)) << code;
    } else {
      EXPECT_EQ(ours, expected) << code;
    }
  }
}

TEST(Dequantize, Fp8EdgeValues) {
  EXPECT_EQ(e4m3fn_to_float(0x7E), 448.0f);  // largest finite
  EXPECT_EQ(e4m3fn_to_float(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(e4m3fn_to_float(0x80), 0.0f);
  EXPECT_TRUE(std::signbit(e4m3fn_to_float(0x80)));
  EXPECT_TRUE(std::isnan(e4m3fn_to_float(0x7F)));
  EXPECT_TRUE(std::isnan(e4m3fn_to_float(0xFF)));
  EXPECT_EQ(e5m2_to_float(0x7B), 57344.0f);  // largest finite e5m2
  EXPECT_TRUE(std::isinf(e5m2_to_float(0x7C)));
  EXPECT_TRUE(std::isnan(e5m2_to_float(0x7D)));
  EXPECT_EQ(e5m2_to_float(0x01), std::ldexp(1.0f, -16));
  EXPECT_EQ(e5m2_to_float(0x3C), 1.0f);
}

TEST(Dequantize, HalfAndBfloat16WidenExactly) {
  EXPECT_EQ(half_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_to_float(0xC000), -2.0f);
  EXPECT_EQ(half_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(half_to_float(0x7C00)));
  EXPECT_TRUE(std::isnan(half_to_float(0x7E00)));
  EXPECT_EQ(bfloat16_to_float(0x3F80), 1.0f);
  EXPECT_EQ(bfloat16_to_float(0xC0A0), -5.0f);
}

TEST(Dequantize, ViewRangesStartAtWholeBlocksAndApplyTheFp8Scale) {
  std::vector<uint8_t> q8(3 * 34, 0);
  for (int b = 0; b < 3; ++b) {
    q8[b * 34 + 1] = 0x3C;  // d = 1.0
    for (int j = 0; j < 32; ++j) q8[b * 34 + 2 + j] = static_cast<uint8_t>(b * 10 + j);
  }
  const TensorView blocks = make_owned_tensor("w", DType::Q8_0, {3, 32}, q8.data(), q8.size());
  std::vector<float> row(32);
  dequantize_view(blocks, 64, 32, row.data());  // the third row only
  EXPECT_EQ(row[0], 20.0f);
  EXPECT_EQ(row[31], 51.0f);
  EXPECT_THROW(dequantize_view(blocks, 16, 32, row.data()), std::invalid_argument);
  const uint8_t codes[2] = {0x38, 0x40};  // 1, 2
  TensorView fp8 = make_owned_tensor("f", DType::F8_E4M3, {2}, codes, 2);
  fp8.scale = 0.5f;
  float values[1];
  dequantize_view(fp8, 1, 1, values);
  EXPECT_EQ(values[0], 1.0f);
}

// Found by the gguf fuzzer: an empty F32 tensor handed memcpy a null destination.
TEST(Dequantize, EmptyTensorsTouchNothing) {
  for (DType dtype : {DType::F32, DType::F16, DType::Q8_0, DType::F8_E4M3}) {
    dequantize(dtype, nullptr, 0, nullptr);
  }
}

TEST(Dequantize, RefusesCountsThatSplitABlockAndNonFloatTypes) {
  std::vector<uint8_t> block(34, 0);
  std::vector<float> out(32);
  EXPECT_THROW(dequantize(DType::Q8_0, block.data(), 16, out.data()), std::invalid_argument);
  EXPECT_THROW(dequantize(DType::I32, block.data(), 4, out.data()), std::invalid_argument);
  EXPECT_THROW(dequantize_scaled_fp8(DType::Q8_0, block.data(), 32, 1.0f, out.data()),
               std::invalid_argument);
}

// The GGUF holding the same input in every type: the reader's views must point at exactly
// the bytes ggml wrote (same dequantized values as the loose vectors).
TEST(Dequantize, AllTypesGgufMatchesTheVectors) {
  FLX_GOLDEN_OR_SKIP(dir, "tiny-flux-quant/dequant_vectors");
  std::shared_ptr<GgufFile> file = GgufFile::open(dir + "/all_types.gguf");
  int checked = 0;
  for (const VectorCase& c : kVectorCases) {
    if (c.dtype == DType::F8_E4M3) continue;  // GGUF has no fp8 type
    std::string name = std::string("vec.") + c.name;
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const TensorView* view = file->find(name);
    ASSERT_NE(view, nullptr) << name;
    EXPECT_EQ(view->dtype, c.dtype) << name;
    EXPECT_EQ(view->shape, (std::vector<int64_t>{4, 512})) << name;
    std::vector<float> values(kVectorValues);
    dequantize(view->dtype, view->data, kVectorValues, values.data());
    EXPECT_EQ(bit_mismatches(values, read_binary_file(dir + "/" + c.name + ".deq.f32")), 0) << name;
    ++checked;
  }
  EXPECT_EQ(checked, 13);
}

}  // namespace
}  // namespace flx::flux
