#include "model/flux_rope.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

namespace flx::flux {
namespace {

// Two axes of 2 and 4 channels: axis 0 has one pair at frequency 1; axis 1 has pairs at
// frequencies 1 and 10000^(-2/4) = 0.01.
TEST(FluxRope, TablesHoldCosAndSinOfPositionTimesFrequencyPerChannelPair) {
  const at::Tensor ids = at::tensor({0.0f, 0.0f, 3.0f, 2.0f, 1.0f, 7.0f}).view({3, 2});
  const RopeTables rope = flux_rope(ids, {2, 4}, 10000.0);
  ASSERT_EQ(rope.cos.sizes(), at::IntArrayRef({3, 6}));
  ASSERT_EQ(rope.cos.scalar_type(), at::kFloat);
  for (int64_t row = 0; row < 3; ++row) {
    const double p0 = ids[row][0].item<double>();
    const double p1 = ids[row][1].item<double>();
    const double angles[6] = {p0, p0, p1, p1, p1 * 0.01, p1 * 0.01};
    for (int64_t col = 0; col < 6; ++col) {
      EXPECT_FLOAT_EQ(rope.cos[row][col].item<float>(), static_cast<float>(std::cos(angles[col])))
          << "row " << row << " col " << col;
      EXPECT_FLOAT_EQ(rope.sin[row][col].item<float>(), static_cast<float>(std::sin(angles[col])))
          << "row " << row << " col " << col;
    }
  }
}

TEST(FluxRope, ApplyRotatesEachChannelPairLikeAComplexProduct) {
  const at::Tensor ids = at::tensor({0.0f, 1.0f, 2.0f, 5.0f}).view({2, 2});
  const RopeTables rope = flux_rope(ids, {2, 2}, 10000.0);
  // x: [1 batch, 1 head, 2 positions, 4 channels]
  const at::Tensor x =
      at::tensor({1.0f, 0.0f, 0.5f, -2.0f, 0.0f, 1.0f, 3.0f, 0.25f}).view({1, 1, 2, 4});
  const at::Tensor out = apply_rope(x, rope);
  ASSERT_EQ(out.sizes(), x.sizes());
  for (int64_t pos = 0; pos < 2; ++pos) {
    for (int64_t pair = 0; pair < 2; ++pair) {
      const double angle = ids[pos][pair].item<double>();
      const double re = x[0][0][pos][2 * pair].item<double>();
      const double im = x[0][0][pos][2 * pair + 1].item<double>();
      EXPECT_NEAR(out[0][0][pos][2 * pair].item<double>(),
                  re * std::cos(angle) - im * std::sin(angle), 1e-6);
      EXPECT_NEAR(out[0][0][pos][2 * pair + 1].item<double>(),
                  im * std::cos(angle) + re * std::sin(angle), 1e-6);
    }
  }
}

TEST(FluxRope, KeepsTheInputDtype) {
  const RopeTables rope = flux_rope(at::zeros({3, 1}), {4}, 10000.0);
  const at::Tensor x = at::ones({1, 2, 3, 4}, at::kBFloat16);
  EXPECT_EQ(apply_rope(x, rope).scalar_type(), at::kBFloat16);
  EXPECT_TRUE(apply_rope(x, rope).equal(x)) << "position 0 must not rotate";
}

TEST(FluxRope, RejectsMismatchedAxesAndOddDimensions) {
  EXPECT_THROW(flux_rope(at::zeros({4, 3}), {2, 2}, 10000.0), std::invalid_argument);
  EXPECT_THROW(flux_rope(at::zeros({4, 2}), {2, 3}, 10000.0), std::invalid_argument);
}

}  // namespace
}  // namespace flx::flux
