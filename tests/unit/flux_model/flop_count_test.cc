// The benchmark's FLOP counts (flop_count.h), checked against sums worked out by hand for
// small configs, term by term, so a dropped or doubled layer shows.
#include "model/flop_count.h"

#include <gtest/gtest.h>

namespace flx::flux {
namespace {

FluxTransformerConfig SmallTransformer() {
  FluxTransformerConfig config;
  config.patch_size = 1;
  config.in_channels = 4;
  config.out_channels = 4;
  config.num_layers = 1;
  config.num_single_layers = 1;
  config.attention_head_dim = 4;
  config.num_attention_heads = 2;  // inner width 8
  config.joint_attention_dim = 6;
  config.pooled_projection_dim = 5;
  config.guidance_embeds = false;
  config.axes_dims_rope = {0, 2, 2};
  return config;
}

TEST(FlopCountTest, TransformerStepMatchesAHandCount) {
  // 3 image + 2 text tokens, width 8, MLP 32:
  //   time 2*256*8 + 2*8*8 = 4224; pooled 2*5*8 + 2*8*8 = 208; x_embedder 2*3*4*8 = 192;
  //   context 2*2*6*8 = 192;
  //   double: adaLN 2*(2*8*48) = 1536, qkv 2*5*8*24 = 1920, attention 4*5*5*8 = 800,
  //           out 2*5*8*8 = 640, MLP 2*(2*5*8*32) = 5120 -> 10016;
  //   single: adaLN 2*8*24 = 384, qkv 1920, MLP in 2*5*8*32 = 2560, attention 800,
  //           proj_out 2*5*40*8 = 3200 -> 8864;
  //   norm_out 2*8*16 = 256, proj_out 2*3*8*4 = 192.
  EXPECT_DOUBLE_EQ(transformer_step_flops(SmallTransformer(), 3, 2),
                   4224 + 208 + 192 + 192 + 10016 + 8864 + 256 + 192);
}

TEST(FlopCountTest, GuidanceEmbeddingAddsItsProjection) {
  FluxTransformerConfig config = SmallTransformer();
  const double without = transformer_step_flops(config, 3, 2);
  config.guidance_embeds = true;
  EXPECT_DOUBLE_EQ(transformer_step_flops(config, 3, 2) - without, 2 * 256 * 8 + 2 * 8 * 8);
}

TEST(FlopCountTest, EachBlockAddsItsOwnCount) {
  FluxTransformerConfig config = SmallTransformer();
  const double one = transformer_step_flops(config, 3, 2);
  config.num_layers = 3;
  config.num_single_layers = 5;
  EXPECT_DOUBLE_EQ(transformer_step_flops(config, 3, 2) - one, 2 * 10016 + 4 * 8864);
}

TEST(FlopCountTest, FluxStepIsTwiceThePerTokenWeightsPerToken) {
  // In FLUX.1 every token passes through 12 x 3072^2 weights in each of the 57 blocks (double:
  // its stream's Q/K/V, output and MLP; single: Q/K/V, MLP and proj_out), so apart from
  // attention a step over N tokens is ~2 * 6.455e9 * N; the adaLN and embedding layers that
  // run once per image or only on some tokens add well under 1%.
  const FluxTransformerConfig config;  // the defaults are FLUX.1's widths and depths
  const int64_t image = 64 * 64, text = 256;
  const double n = image + text;
  const double attention = 57 * 4 * n * n * 3072;
  const double per_token = 57 * 12 * 3072.0 * 3072.0;
  const double flops = transformer_step_flops(config, image, text);
  EXPECT_NEAR((flops - attention) / (2 * n) / per_token, 1.0, 0.01);
}

TEST(FlopCountTest, VaeDecodeMatchesAHandCount) {
  AutoencoderKLConfig config;
  config.latent_channels = 2;
  config.out_channels = 3;
  config.block_out_channels = {4, 8};
  config.layers_per_block = 1;
  config.use_post_quant_conv = true;
  config.mid_block_add_attention = true;
  // Latent 2x2 (4 positions), image 4x4 (16):
  //   post_quant 2*4*2*2 = 32; conv_in 2*4*2*8*9 = 1152;
  //   mid: 2 resnets 8->8 at 4: 2 * (2 * 2*4*8*8*9) = 18432; attention 4*2*4*8*8 + 4*4*4*8 =
  //   2560;
  //   up 0 (8): 2 resnets 8->8 at 4 = 18432, upsample conv at 16: 2*16*8*8*9 = 18432;
  //   up 1 (4) at 16: resnet 8->4 = 2*16*8*4*9 + 2*16*4*4*9 + 2*16*8*4 = 14848,
  //                   resnet 4->4 = 2 * 2*16*4*4*9 = 9216;
  //   conv_out 2*16*4*3*9 = 3456.
  EXPECT_DOUBLE_EQ(vae_decode_flops(config, 2, 2),
                   32 + 1152 + 18432 + 2560 + 18432 + 18432 + 14848 + 9216 + 3456);
}

}  // namespace
}  // namespace flx::flux
