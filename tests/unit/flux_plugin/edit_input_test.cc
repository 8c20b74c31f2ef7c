// The flux stage's side of an edit (edit_input.h): the size an edit defaults to, the image and
// mask resampled to the output size (untouched when it is already that size), and the
// strength the client meant.
#include "edit_input.h"

#include <gtest/gtest.h>

#include <cmath>
#include <flx/plugin.hpp>
#include <vector>

#include "model/edit_images.h"

namespace flx::flux {
namespace {

flx_image View(const std::vector<uint8_t>& pixels, uint32_t width, uint32_t height,
               uint32_t channels) {
  return flx_image{sizeof(flx_image),        width,        height, channels,
                   size_t{width} * channels, pixels.data()};
}

TEST(EditInput, AnEditDefaultsToItsImagesSizeRoundedDownToTheMultiple) {
  const std::vector<uint8_t> pixels(100 * 70 * 3, 1);
  int64_t width = 0, height = 0;
  edit_default_size(View(pixels, 100, 70, 3), 16, &width, &height);
  EXPECT_EQ(width, 96);
  EXPECT_EQ(height, 64);
  EXPECT_THROW(edit_default_size(View(pixels, 10, 70, 3), 16, &width, &height), flx::Error);
}

TEST(EditInput, ResamplingIsTheIdentityAtTheSameSizeAndKeepsFlatAreasFlat) {
  std::vector<uint8_t> rgba(24 * 16 * 4);
  for (size_t i = 0; i < rgba.size(); ++i) rgba[i] = static_cast<uint8_t>(i * 13);
  const std::vector<uint8_t> same = resample(View(rgba, 24, 16, 4), 24, 16, 3);
  ASSERT_EQ(same.size(), 24u * 16 * 3);
  for (size_t p = 0; p < 24 * 16; ++p) {
    for (int c = 0; c < 3; ++c) ASSERT_EQ(same[p * 3 + c], rgba[p * 4 + c]) << p;
  }
  const std::vector<uint8_t> flat(40 * 40, 200);
  for (const auto& [w, h] : std::vector<std::pair<int64_t, int64_t>>{{16, 16}, {64, 48}}) {
    const std::vector<uint8_t> scaled = resample(View(flat, 40, 40, 1), w, h, 1);
    ASSERT_EQ(scaled.size(), static_cast<size_t>(w * h));
    for (uint8_t v : scaled) ASSERT_EQ(v, 200) << w << "x" << h;
  }
  // Gray repeats into RGB.
  const std::vector<uint8_t> rgb = resample(View(flat, 40, 40, 1), 40, 40, 3);
  EXPECT_EQ(rgb[0], 200);
  EXPECT_EQ(rgb[2], 200);
}

TEST(EditInput, TheStrengthIsTheDecimalTheClientSentAndMasksCome) {
  const std::vector<uint8_t> pixels(16 * 16 * 3, 9);
  const std::vector<uint8_t> gray(16 * 16, 255);
  const flx_image image = View(pixels, 16, 16, 3);
  const flx_image mask = View(gray, 16, 16, 1);
  flx_request request{};
  request.struct_size = sizeof(request);
  request.init_image = &image;
  request.strength = 0.3f;
  std::shared_ptr<const EditImages> edit = edit_images(request, 16, 16);
  ASSERT_NE(edit, nullptr);
  EXPECT_EQ(edit->strength, 0.3) << "0.3f read back as the double 0.3, not 0.30000001192";
  EXPECT_TRUE(edit->mask.empty());
  request.mask = &mask;
  request.strength = std::nanf("");
  edit = edit_images(request, 16, 16);
  EXPECT_EQ(edit->strength, 0.6) << "diffusers' default";
  EXPECT_EQ(edit->mask.size(), 256u);
  request.strength = 1.5f;
  EXPECT_THROW(edit_images(request, 16, 16), flx::Error);
  request.init_image = nullptr;
  EXPECT_EQ(edit_images(request, 16, 16), nullptr);
}

}  // namespace
}  // namespace flx::flux
