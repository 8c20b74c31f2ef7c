#include "model/vae_tiling.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace flx::flux {
namespace {

// A "decoder" without global statistics or borders: every latent pixel becomes a
// scale x scale block of its channel sum and difference. Tiling must reproduce it exactly up
// to the blend's rounding.
at::Tensor local_decode(const at::Tensor& latents, int64_t scale) {
  const at::Tensor mixed = at::cat(
      {latents.sum(1, true), latents.select(1, 0).unsqueeze(1) - latents.select(1, 1).unsqueeze(1)},
      1);
  return mixed.repeat_interleave(scale, 2).repeat_interleave(scale, 3);
}

TEST(CheckVaeTiling, AcceptsMultiplesOfTheScaleFactorUpToHalfOverlap) {
  for (const VaeTiling tiling : {VaeTiling{512, 128}, VaeTiling{64, 32}, VaeTiling{8, 0}}) {
    EXPECT_NO_THROW(check_vae_tiling(tiling, 8)) << tiling.tile_size << "/" << tiling.overlap;
  }
}

TEST(CheckVaeTiling, RejectsOtherGeometryNamingTheSetting) {
  const struct {
    VaeTiling tiling;
    std::string message;
  } cases[] = {
      {{0, 0}, "vae_tile_size 0 must be a positive multiple of 8 (the VAE scale factor)"},
      {{-64, 0}, "vae_tile_size -64 must be a positive multiple of 8 (the VAE scale factor)"},
      {{100, 0}, "vae_tile_size 100 must be a positive multiple of 8 (the VAE scale factor)"},
      {{64, 12},
       "vae_tile_overlap 12 must be a multiple of 8 (the VAE scale factor) from 0 to half of "
       "vae_tile_size 64"},
      {{64, 40},
       "vae_tile_overlap 40 must be a multiple of 8 (the VAE scale factor) from 0 to half of "
       "vae_tile_size 64"},
      {{64, -8},
       "vae_tile_overlap -8 must be a multiple of 8 (the VAE scale factor) from 0 to half of "
       "vae_tile_size 64"},
  };
  for (const auto& c : cases) {
    try {
      check_vae_tiling(c.tiling, 8);
      ADD_FAILURE() << "expected std::invalid_argument for " << c.message;
    } catch (const std::invalid_argument& error) {
      EXPECT_EQ(std::string(error.what()), c.message);
    }
  }
}

TEST(TileStarts, StepsByTheStrideUpToTheEdge) {
  EXPECT_EQ(tile_starts(32, 12), (std::vector<int64_t>{0, 12, 24}));
  EXPECT_EQ(tile_starts(24, 12), (std::vector<int64_t>{0, 12}));
  EXPECT_EQ(tile_starts(5, 12), (std::vector<int64_t>{0}));
}

TEST(NeedsTiling, OnlyAboveOneTileInEitherDirection) {
  const VaeTiling tiling{64, 16};
  EXPECT_FALSE(needs_tiling(at::zeros({1, 4, 16, 16}), tiling, 4));
  EXPECT_TRUE(needs_tiling(at::zeros({1, 4, 16, 17}), tiling, 4));
  EXPECT_TRUE(needs_tiling(at::zeros({1, 4, 20, 8}), tiling, 4));
}

TEST(TiledDecode, ReproducesADecoderWithoutGlobalStatistics) {
  at::manual_seed(9);
  const struct {
    std::vector<int64_t> latent_shape;
    VaeTiling tiling;
  } cases[] = {
      {{1, 3, 40, 40}, {64, 16}},  // uneven last tiles (stride 12 latent pixels)
      {{2, 3, 16, 50}, {32, 16}},  // a batch of a wide map
      {{1, 3, 33, 21}, {48, 0}},   // no overlap: plain concatenation
      {{1, 3, 12, 12}, {16, 8}},   // overlap of half a tile
  };
  for (const auto& c : cases) {
    const at::Tensor latents = at::randn(c.latent_shape);
    int tiles = 0;
    const at::Tensor tiled = tiled_decode(latents, c.tiling, 4, [&](const at::Tensor& tile) {
      ++tiles;
      return local_decode(tile, 4);
    });
    const at::Tensor whole = local_decode(latents, 4);
    ASSERT_EQ(tiled.sizes(), whole.sizes()) << c.tiling.tile_size << "/" << c.tiling.overlap;
    EXPECT_LE((tiled - whole).abs().max().item<double>(), 1e-5)
        << c.tiling.tile_size << "/" << c.tiling.overlap;
    const int64_t stride = (c.tiling.tile_size - c.tiling.overlap) / 4;
    EXPECT_EQ(tiles, static_cast<int>(tile_starts(c.latent_shape[2], stride).size() *
                                      tile_starts(c.latent_shape[3], stride).size()));
  }
}

TEST(TiledDecode, BlendsSeamsLinearlyAsDiffusersDoes) {
  // Each tile decodes to a constant: 10 for the first, 20 for the second, ...
  const VaeTiling tiling{32, 16};  // latent tiles of 8 starting every 4 latent pixels
  const at::Tensor latents = at::zeros({1, 1, 8, 12});
  int tile = 0;
  const at::Tensor image = tiled_decode(latents, tiling, 4, [&](const at::Tensor& part) {
    return at::full({1, 1, part.size(2) * 4, part.size(3) * 4}, 10.0 * ++tile);
  });
  ASSERT_EQ(image.sizes(), at::IntArrayRef({1, 1, 32, 48}));
  // Row 0 has tiles 1, 2, 3 starting at columns 0, 16, 32; tile 2's first 16 columns rise
  // from tile 1's value to its own: 10 (1 - x / 16) + 20 x / 16.
  for (int64_t x = 0; x < 16; ++x) {
    EXPECT_NEAR(image[0][0][0][16 + x].item<double>(), 10.0 + 10.0 * x / 16.0, 1e-5) << x;
  }
  EXPECT_NEAR(image[0][0][0][5].item<double>(), 10.0, 1e-6) << "inside the first tile";
}

}  // namespace
}  // namespace flx::flux
