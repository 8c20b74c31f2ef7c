#include "model/timestep_embedding.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

namespace flx::flux {
namespace {

// dim 4: half 2, frequencies exp(-ln(10000) * j / 2) = 1 and 0.01.
TEST(TimestepEmbedding, FlippedColumnsAreCosThenSinOfTimeTimesFrequency) {
  const at::Tensor embedding =
      timestep_embedding(at::tensor({0.0f, 1.0f, 250.0f}), 4, /*flip_sin_to_cos=*/true, 0.0);
  ASSERT_EQ(embedding.sizes(), at::IntArrayRef({3, 4}));
  const float times[] = {0.0f, 1.0f, 250.0f};
  for (int64_t row = 0; row < 3; ++row) {
    const double t = times[row];
    EXPECT_NEAR(embedding[row][0].item<float>(), std::cos(t), 1e-5) << "t=" << t;
    EXPECT_NEAR(embedding[row][1].item<float>(), std::cos(t * 0.01), 1e-5) << "t=" << t;
    EXPECT_NEAR(embedding[row][2].item<float>(), std::sin(t), 1e-5) << "t=" << t;
    EXPECT_NEAR(embedding[row][3].item<float>(), std::sin(t * 0.01), 1e-5) << "t=" << t;
  }
}

TEST(TimestepEmbedding, UnflippedShiftedScaledAndOddDims) {
  // shift 1: frequencies exp(-ln(10000) * j / (half - 1)); dim 5 pads a zero column.
  const at::Tensor embedding =
      timestep_embedding(at::tensor({2.0f}), 5, /*flip_sin_to_cos=*/false, 1.0, /*scale=*/3.0);
  ASSERT_EQ(embedding.sizes(), at::IntArrayRef({1, 5}));
  EXPECT_NEAR(embedding[0][0].item<float>(), std::sin(6.0), 1e-5);
  EXPECT_NEAR(embedding[0][1].item<float>(), std::sin(6.0 * 1e-4), 1e-6);
  EXPECT_NEAR(embedding[0][2].item<float>(), std::cos(6.0), 1e-5);
  EXPECT_NEAR(embedding[0][3].item<float>(), std::cos(6.0 * 1e-4), 1e-6);
  EXPECT_EQ(embedding[0][4].item<float>(), 0.0f);
}

}  // namespace
}  // namespace flx::flux
