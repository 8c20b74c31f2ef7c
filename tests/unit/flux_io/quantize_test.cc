// Our quantizers against ggml's reference quantizers (../shared/golden/tiny-flux-quant/
// dequant_vectors/<TYPE>.q = ggml_quantize_chunk of input.f32): byte for byte.
#include "io/quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "io/dequantize.h"
#include "support/binary_file.h"
#include "support/golden.h"

namespace flx::flux {
namespace {

using flx::test::read_binary_file;

TEST(Quantize, EveryWrittenTypeIsByteIdenticalToGgml) {
  FLX_GOLDEN_OR_SKIP(dir, "tiny-flux-quant/dequant_vectors");
  const std::vector<char> input = read_binary_file(dir + "/input.f32");
  ASSERT_EQ(input.size(), 2048u * 4);
  std::vector<float> values(2048);
  std::memcpy(values.data(), input.data(), input.size());
  const std::pair<const char*, DType> cases[] = {{"Q8_0", DType::Q8_0},
                                                 {"Q4_K", DType::Q4_K},
                                                 {"Q5_K", DType::Q5_K},
                                                 {"Q6_K", DType::Q6_K},
                                                 {"F8_E4M3", DType::F8_E4M3}};
  for (const auto& [name, dtype] : cases) {
    const std::vector<char> expected = read_binary_file(dir + "/" + name + ".q");
    std::vector<char> ours(expected.size());
    quantize(dtype, values.data(), 2048, ours.data());
    size_t mismatches = 0;
    for (size_t i = 0; i < ours.size(); ++i) mismatches += ours[i] != expected[i];
    EXPECT_EQ(mismatches, 0u) << name;
  }
}

TEST(Quantize, RoundTripErrorIsBoundedByTheBlockScale) {
  std::vector<float> x(512);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * i) * (1 + (i % 7));
  for (DType dtype : {DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    std::vector<uint8_t> packed(*tensor_bytes(dtype, {512}));
    quantize(dtype, x.data(), 512, packed.data());
    std::vector<float> back(512);
    dequantize(dtype, packed.data(), 512, back.data());
    float worst = 0;
    for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(back[i] - x[i]));
    // Coarsest grid: Q4_K, 15 steps over a sub-block's range (at most 14 here).
    EXPECT_LT(worst, 14.0f / 15.0f) << dtype_name(dtype);
  }
}

TEST(Quantize, ZerosStayZeroAndBadCallsAreRefused) {
  std::vector<float> zeros(256, 0.0f);
  for (DType dtype : {DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    std::vector<uint8_t> packed(*tensor_bytes(dtype, {256}), 0xAA);
    quantize(dtype, zeros.data(), 256, packed.data());
    std::vector<float> back(256, 1.0f);
    dequantize(dtype, packed.data(), 256, back.data());
    for (float v : back) ASSERT_EQ(v, 0.0f) << dtype_name(dtype);
  }
  std::vector<uint8_t> out(1024);
  EXPECT_THROW(quantize(DType::Q4_K, zeros.data(), 32, out.data()), std::invalid_argument);
  EXPECT_THROW(quantize(DType::Q2_K, zeros.data(), 256, out.data()), std::invalid_argument);
  EXPECT_FALSE(can_quantize_to(DType::Q3_K));
  EXPECT_TRUE(can_quantize_to(DType::Q6_K));
}

TEST(Quantize, HalfAndE4m3RoundToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(65504.0f), 0x7BFF);
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);  // the halfway point rounds to infinity
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048), 0x3C00);  // tie to even
  EXPECT_EQ(float_to_half(1.0f + 3.0f / 2048), 0x3C02);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
  EXPECT_EQ(float_to_e4m3fn(1.0f), 0x38);
  EXPECT_EQ(float_to_e4m3fn(1000.0f), 0x7E);  // saturates at 448
  EXPECT_EQ(float_to_e4m3fn(-1000.0f), 0xFE);
  EXPECT_EQ(float_to_e4m3fn(1.0625f), 0x38);  // halfway between 1 and 1.125: even code
  EXPECT_EQ(float_to_e4m3fn(std::numeric_limits<float>::quiet_NaN()), 0x7F);
}

}  // namespace
}  // namespace flx::flux
