#include "model/flop_count.h"

namespace flx::flux {
namespace {

// rows x (in -> out) through a linear layer.
double linear(double rows, double in, double out) { return 2 * rows * in * out; }

// A k x k convolution producing `positions` output positions.
double conv(double positions, double in, double out, double k) {
  return 2 * positions * in * out * k * k;
}

// The two products of attention over `tokens` tokens of total width `width`.
double attention(double tokens, double width) { return 2 * 2 * tokens * tokens * width; }

double resnet(double positions, double in, double out) {
  double flops = conv(positions, in, out, 3) + conv(positions, out, out, 3);
  if (in != out) flops += conv(positions, in, out, 1);
  return flops;
}

}  // namespace

double transformer_step_flops(const FluxTransformerConfig& config, int64_t image_tokens,
                              int64_t text_tokens) {
  const double d = static_cast<double>(config.inner_dim());
  const double n_img = static_cast<double>(image_tokens);
  const double n_txt = static_cast<double>(text_tokens);
  const double n = n_img + n_txt;
  const double mlp = 4 * d;  // FeedForward and proj_mlp: mult 4 / mlp_ratio 4.0

  // Sinusoidal time (and guidance) projections of 256 channels and the pooled CLIP vector,
  // each through linear, act, linear to the inner width; one row per image.
  constexpr double kTimeProjection = 256;
  double flops = linear(1, kTimeProjection, d) + linear(1, d, d);
  if (config.guidance_embeds) flops += linear(1, kTimeProjection, d) + linear(1, d, d);
  flops += linear(1, static_cast<double>(config.pooled_projection_dim), d) + linear(1, d, d);
  flops += linear(n_img, static_cast<double>(config.in_channels), d);         // x_embedder
  flops += linear(n_txt, static_cast<double>(config.joint_attention_dim), d);  // context

  // Double-stream block: AdaLayerNormZero (6 modulations) for each stream, Q/K/V and the
  // output projection of both streams, joint attention, and each stream's GELU MLP.
  const double double_block = 2 * linear(1, d, 6 * d) + linear(n, d, 3 * d) + attention(n, d) +
                              linear(n, d, d) + linear(n, d, mlp) + linear(n, mlp, d);
  // Single-stream block: AdaLayerNormZeroSingle (3 modulations), Q/K/V and the MLP in
  // parallel from the same input, attention, and proj_out over [attention, MLP].
  const double single_block = linear(1, d, 3 * d) + linear(n, d, 3 * d) + linear(n, d, mlp) +
                              attention(n, d) + linear(n, d + mlp, d);
  flops += static_cast<double>(config.num_layers) * double_block;
  flops += static_cast<double>(config.num_single_layers) * single_block;

  // AdaLayerNormContinuous (scale, shift) and the projection to patch x patch x out_channels.
  const double patch = static_cast<double>(config.patch_size);
  flops += linear(1, d, 2 * d) +
           linear(n_img, d, patch * patch * static_cast<double>(config.out_channels));
  return flops;
}

double vae_decode_flops(const AutoencoderKLConfig& config, int64_t latent_height,
                        int64_t latent_width) {
  double positions = static_cast<double>(latent_height) * static_cast<double>(latent_width);
  const double latent = static_cast<double>(config.latent_channels);
  const double top = static_cast<double>(config.block_out_channels.back());

  double flops = 0;
  if (config.use_post_quant_conv) flops += conv(positions, latent, latent, 1);
  flops += conv(positions, latent, top, 3);  // conv_in
  // Mid block: resnet, attention (group norm, Q, K, V, products, output), resnet.
  flops += 2 * resnet(positions, top, top);
  if (config.mid_block_add_attention) {
    flops += 4 * linear(positions, top, top) + attention(positions, top);
  }
  double previous = top;
  const size_t blocks = config.block_out_channels.size();
  for (size_t i = 0; i < blocks; ++i) {
    const double out = static_cast<double>(config.block_out_channels[blocks - 1 - i]);
    for (int64_t layer = 0; layer <= config.layers_per_block; ++layer) {
      flops += resnet(positions, layer == 0 ? previous : out, out);
    }
    if (i + 1 < blocks) {  // nearest 2x upsampling, then a 3x3 conv at the new size
      positions *= 4;
      flops += conv(positions, out, out, 3);
    }
    previous = out;
  }
  flops += conv(positions, static_cast<double>(config.block_out_channels.front()),
                static_cast<double>(config.out_channels), 3);  // conv_out
  return flops;
}

}  // namespace flx::flux
