// Tiled and attention-sliced decoding with the tiny-flux VAE against a whole decode: how far
// tiling moves the image (the bound vae_tiling.h states) and that slicing does not.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "golden_tensors.h"
#include "model/autoencoder_kl.h"
#include "support/golden.h"

namespace flx::flux {
namespace {

using flx::test::max_abs_diff;

class VaeTilingParity : public ::testing::Test {
 protected:
  void SetUp() override {
    FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
    vae_ = &flx::test::tiny_flux_pipeline(model_dir).vae();
  }

  const AutoencoderKL* vae_ = nullptr;
};

struct TilingError {
  double max = 0;
  double mean = 0;
};

TEST_F(VaeTilingParity, TiledDecodeStaysWithinTheStatedBounds) {
  at::manual_seed(23);
  // A 48x48 latent map (a 192x192 image), three times the VAE's 64-pixel sample size per side.
  const at::Tensor latents = at::randn({1, 16, 48, 48});
  const at::Tensor whole = vae_->decode(latents);
  auto error_of = [&](const VaeTiling& tile) {
    VaeDecodeOptions options;
    options.tiling = true;
    options.tile = tile;
    const at::Tensor tiled = vae_->decode(latents, options);
    EXPECT_EQ(tiled.sizes(), whole.sizes());
    const TilingError error{max_abs_diff(tiled, whole),
                            (tiled - whole).abs().mean().item<double>()};
    const std::string name = std::to_string(tile.tile_size) + "_" + std::to_string(tile.overlap);
    ::testing::Test::RecordProperty("max_abs_error_" + name, std::to_string(error.max));
    ::testing::Test::RecordProperty("mean_abs_error_" + name, std::to_string(error.mean));
    std::cout << "tiled decode of 48x48 latents, " << tile.tile_size << "-pixel tiles, "
              << tile.overlap << " overlap: max |error| " << error.max << ", mean |error| "
              << error.mean << "\n";
    return error;
  };
  // diffusers' geometry for this VAE: tiles of sample_size (64), a quarter of it overlapping.
  const TilingError small = error_of(VaeTiling{64, 16});
  EXPECT_GT(small.max, 0.0) << "tiles see their own group-norm statistics: not exact";
  EXPECT_LE(small.mean, 0.15) << "the bound vae_tiling.h states";
  EXPECT_LE(small.max, 1.5) << "the bound vae_tiling.h states";
  const TilingError large = error_of(VaeTiling{128, 32});
  EXPECT_LT(large.mean * 2, small.mean) << "more context per tile, less error";
}

TEST_F(VaeTilingParity, AttentionSlicingMatchesTheWholeDecode) {
  at::manual_seed(29);
  // 32x40 latent pixels: 1280 attention tokens, more than one "max" query block.
  const at::Tensor latents = at::randn({1, 16, 32, 40});
  const at::Tensor whole = vae_->decode(latents);
  for (const std::string setting : {"max", "4"}) {
    const at::Tensor sliced = vae_->decode(latents, {}, parse_attention_slicing(setting));
    EXPECT_LE(max_abs_diff(sliced, whole), 1e-5) << setting;
  }
}

}  // namespace
}  // namespace flx::flux
