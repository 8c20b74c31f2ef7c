#include "model/memory_estimate.h"

#include <gtest/gtest.h>

namespace flx::flux {
namespace {

// FLUX.1's shapes (the defaults of the config structs are FLUX.1-schnell's transformer; the VAE
// below is FLUX.1's).
AutoencoderKLConfig FluxVae() {
  AutoencoderKLConfig vae;
  vae.block_out_channels = {128, 256, 512, 512};
  vae.latent_channels = 16;
  return vae;
}

EstimateInputs Inputs(int64_t side) {
  EstimateInputs in;
  in.width = side;
  in.height = side;
  in.text_tokens = 256;
  in.element_size = 2;
  return in;
}

TEST(MemoryEstimateTest, GrowsWithTheImage) {
  const FluxTransformerConfig transformer;
  int64_t previous = 0;
  for (int64_t side : {256, 512, 1024, 2048}) {
    const ActivationEstimate e = estimate_activations(transformer, FluxVae(), Inputs(side));
    EXPECT_GT(e.peak_bytes(), previous) << side;
    EXPECT_EQ(e.peak_bytes(), std::max(e.denoise_bytes, e.vae_decode_bytes));
    previous = e.peak_bytes();
  }
}

// The unsliced score matrices dominate large images; slicing and tiling bound them.
TEST(MemoryEstimateTest, SlicingAndTilingBoundTheLargestTerms) {
  const FluxTransformerConfig transformer;
  EstimateInputs plain = Inputs(2048);
  const ActivationEstimate whole = estimate_activations(transformer, FluxVae(), plain);
  // 1024x1024 VAE attention scores alone: (256 x 256)^2 bf16 elements = 8 GiB.
  EXPECT_GT(whole.vae_decode_bytes, int64_t{8} << 30);
  EstimateInputs sliced = plain;
  sliced.attention.slicing = AttentionOptions::Slicing::kAuto;
  const ActivationEstimate auto_sliced = estimate_activations(transformer, FluxVae(), sliced);
  // What is left is the full-resolution maps of the last up block: 5 x 128 x 2048^2 bf16.
  EXPECT_LT(auto_sliced.vae_decode_bytes, whole.vae_decode_bytes);
  const double full_resolution_maps = 5.0 * 128 * 2048 * 2048 * 2 * kEstimateMargin;
  EXPECT_GE(double(auto_sliced.vae_decode_bytes), full_resolution_maps);
  EXPECT_LT(double(auto_sliced.vae_decode_bytes), 1.02 * full_resolution_maps);
  EXPECT_LT(auto_sliced.denoise_bytes, whole.denoise_bytes);
  EstimateInputs tiled = sliced;
  tiled.vae.tiling = true;
  EXPECT_LT(estimate_activations(transformer, FluxVae(), tiled).vae_decode_bytes,
            auto_sliced.vae_decode_bytes / 4);
}

// The hand-counted denoise term of a small case: 26 x tokens x inner_dim plus one score
// matrix per head, in float32, times the margin.
TEST(MemoryEstimateTest, DenoiseTermIsTheDocumentedCount) {
  FluxTransformerConfig transformer;
  transformer.num_attention_heads = 2;
  transformer.attention_head_dim = 64;
  EstimateInputs in = Inputs(256);
  in.element_size = 4;
  const int64_t tokens = 16 * 16 + 256;
  const double elements = 26.0 * tokens * 128 + 2.0 * tokens * tokens;
  EXPECT_EQ(estimate_activations(transformer, FluxVae(), in).denoise_bytes,
            static_cast<int64_t>(elements * 4 * kEstimateMargin));
}

}  // namespace
}  // namespace flx::flux
