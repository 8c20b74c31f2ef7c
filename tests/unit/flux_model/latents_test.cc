#include "model/latents.h"

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
