#include "model/latents.h"
#include "model/image_edit.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <stdexcept>

namespace flx::flux {
namespace {

TEST(Latents, LatentSizeIsEvenAndFollowsTheVaeScaleFactor) {
  const struct {
    int64_t pixels, scale, expected;
  } cases[] = {{1024, 8, 128}, {1000, 8, 124}, {64, 4, 16}, {96, 4, 24}, {70, 4, 16}};
  for (const auto& c : cases) {
    EXPECT_EQ(latent_size(c.pixels, c.scale), c.expected) << c.pixels << "px / " << c.scale;
  }
}

TEST(Latents, PackingTurnsEachTwoByTwoPatchIntoOneToken) {
  const at::Tensor latents = at::arange(2 * 3 * 4 * 6, at::kFloat).view({2, 3, 4, 6});
  const at::Tensor packed = pack_latents(latents);
  ASSERT_EQ(packed.sizes(), at::IntArrayRef({2, 6, 12}));
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t r = 0; r < 2; ++r) {
      for (int64_t c = 0; c < 3; ++c) {
        for (int64_t ch = 0; ch < 3; ++ch) {
          for (int64_t dy = 0; dy < 2; ++dy) {
            for (int64_t dx = 0; dx < 2; ++dx) {
              EXPECT_EQ(packed[b][r * 3 + c][ch * 4 + dy * 2 + dx].item<float>(),
                        latents[b][ch][2 * r + dy][2 * c + dx].item<float>())
                  << "b" << b << " r" << r << " c" << c << " ch" << ch;
            }
          }
        }
      }
    }
  }
  EXPECT_TRUE(unpack_latents(packed, 4, 6).equal(latents));
  EXPECT_THROW(pack_latents(at::zeros({1, 2, 3, 4})), std::invalid_argument);
}

TEST(Latents, PositionIds) {
  const at::Tensor ids = latent_image_ids(2, 3, at::kFloat);
  const at::Tensor expected = at::tensor({0.f, 0.f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 2.f, 0.f, 1.f,
                                          0.f, 0.f, 1.f, 1.f, 0.f, 1.f, 2.f})
                                  .view({6, 3});
  EXPECT_TRUE(ids.equal(expected)) << ids;
  EXPECT_TRUE(text_ids(5, at::kBFloat16).equal(at::zeros({5, 3}, at::kBFloat16)));
}

TEST(Latents, InitialNoiseIsTheSeededStandardNormalDraw) {
  const at::Tensor a = initial_noise(16, 8, 6, 42, at::kFloat);
  ASSERT_EQ(a.sizes(), at::IntArrayRef({1, 16, 8, 6}));
  EXPECT_TRUE(a.equal(initial_noise(16, 8, 6, 42, at::kFloat))) << "same seed, same noise";
  EXPECT_FALSE(a.equal(initial_noise(16, 8, 6, 43, at::kFloat)));
  at::manual_seed(42);
  EXPECT_TRUE(a.equal(at::randn({1, 16, 8, 6}))) << "must equal torch.manual_seed(42); randn";
  EXPECT_EQ(initial_noise(4, 2, 2, 1, at::kBFloat16).scalar_type(), at::kBFloat16);
}

}  // namespace
}  // namespace flx::flux

// Edits' arithmetic (image_edit.h), as diffusers 0.32.2 computes it.
namespace flx::flux {
namespace {

TEST(ImageEdit, TheFirstStepTruncatesInDoubleAsDiffusersDoes) {
  // int(max(steps - min(steps * strength, steps), 0)) in Python floats.
  EXPECT_EQ(edit_start_step(25, 0.56), 10) << "25 * 0.56 = 14.000000000000002";
  EXPECT_EQ(edit_start_step(50, 0.56), 21);
  EXPECT_EQ(edit_start_step(100, 0.55), 44);
  EXPECT_EQ(edit_start_step(75, 0.68), 23);
  EXPECT_EQ(edit_start_step(10, 0.3), 7);
  EXPECT_EQ(edit_start_step(4, 1.0), 0);
  EXPECT_EQ(edit_start_step(4, 0.1), 3);
}

TEST(ImageEdit, TheMaskIsSampledAtEachBlocksTopLeftPixelAndBinarizedAtHalf) {
  // 32x16 pixels -> 4x2 latents -> 2x1 packed tokens of 4 channels x 2x2.
  std::vector<uint8_t> mask(32 * 16, 0);
  mask[0 * 32 + 8] = 128;   // latent (0, 1): repaint (>= 128)
  mask[8 * 32 + 0] = 127;   // latent (1, 0): keep (< 128)
  mask[8 * 32 + 17] = 255;  // not a block's top-left pixel: ignored
  const at::Tensor packed = packed_latent_mask(mask, 32, 16, 8, 4, at::kFloat);
  ASSERT_EQ(packed.sizes(), (at::IntArrayRef{1, 2, 16}));
  const at::Tensor unpacked = unpack_latents(packed, 2, 4);
  at::Tensor expected = at::zeros({1, 4, 2, 4});
  expected.index_put_({at::indexing::Slice(), at::indexing::Slice(), 0, 1}, 1);
  EXPECT_TRUE(unpacked.equal(expected)) << unpacked;
}

TEST(ImageEdit, ScaleNoiseRoundsSigmaToTheSampleDtype) {
  const at::Tensor sample = at::full({4}, 2.0, at::kBFloat16);
  const at::Tensor noise = at::full({4}, -1.0, at::kBFloat16);
  const at::Tensor mixed = scale_noise(sample, 0.3f, noise);
  EXPECT_EQ(mixed.scalar_type(), at::kBFloat16);
  const double s = static_cast<double>(c10::BFloat16(0.3f));
  const float expected = c10::BFloat16(c10::BFloat16(s * -1.0) +
                                       c10::BFloat16(c10::BFloat16(1.0 - s) * 2.0));
  EXPECT_EQ(mixed[0].item<float>(), expected);
  EXPECT_TRUE(scale_noise(sample, 1.0f, noise).equal(noise)) << "sigma 1 is the noise alone";
}

TEST(ImageEdit, TheImageEntersTheVaeAsTwiceItsUnitValueMinusOne) {
  const std::vector<uint8_t> rgb = {0, 255, 128, 10, 20, 30};  // 2x1 pixels
  const at::Tensor input = image_to_vae_input(rgb, 2, 1, at::kFloat);
  ASSERT_EQ(input.sizes(), (at::IntArrayRef{1, 3, 1, 2}));
  EXPECT_FLOAT_EQ(input[0][0][0][0].item<float>(), -1.f);
  EXPECT_FLOAT_EQ(input[0][1][0][0].item<float>(), 1.f);
  EXPECT_FLOAT_EQ(input[0][2][0][0].item<float>(), 2.f * (128.f / 255.f) - 1.f);
  EXPECT_FLOAT_EQ(input[0][0][0][1].item<float>(), 2.f * (10.f / 255.f) - 1.f);
  EXPECT_THROW(image_to_vae_input(rgb, 3, 1, at::kFloat), std::invalid_argument);
}

}  // namespace
}  // namespace flx::flux
