#include "model/image_postprocess.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace flx::flux {
namespace {

TEST(ImagePostprocess, MapsMinusOneToOneOntoUnitRangeChannelsLast) {
  // [1, 3, 1, 2]: channel c, column x.
  const at::Tensor decoded = at::tensor({-1.5f, 0.0f, 1.0f, 0.5f, -1.0f, 3.0f}).view({1, 3, 1, 2});
  const at::Tensor unit = to_unit_images(decoded);
  ASSERT_EQ(unit.sizes(), at::IntArrayRef({1, 1, 2, 3}));
  EXPECT_TRUE(unit[0][0][0].equal(at::tensor({0.0f, 1.0f, 0.0f}))) << unit;
  EXPECT_TRUE(unit[0][0][1].equal(at::tensor({0.5f, 0.75f, 1.0f}))) << unit;
}

TEST(ImagePostprocess, RoundsHalfToEvenLikeNumpy) {
  // 0.5/255 * 255 = 0.5 -> 0, 1.5/255 * 255 = 1.5 -> 2, 2.5/255 -> 2.
  const at::Tensor unit = at::tensor({0.0f, 0.5f / 255, 1.5f / 255, 2.5f / 255, 0.2f, 1.0f});
  const at::Tensor bytes = to_uint8_images(unit);
  EXPECT_EQ(bytes.scalar_type(), at::kByte);
  EXPECT_TRUE(bytes.equal(at::tensor({0, 0, 2, 2, 51, 255}, at::kByte))) << bytes;
}

}  // namespace
}  // namespace flx::flux
