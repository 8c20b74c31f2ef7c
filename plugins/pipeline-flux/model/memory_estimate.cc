#include "model/memory_estimate.h"

#include <algorithm>

namespace flx::flux {
namespace {

// The elements of the score matrix attention holds at once for `queries` x `keys` over
// `heads` heads of one image: one slice's (attention.cc scales in the product and runs the
// softmax in place, so there is one matrix, not two).
double attention_score_elements(const AttentionOptions& options, int64_t heads, int64_t queries,
                                int64_t keys, int64_t element_size) {
  const AttentionSlice slice = attention_slice(options, 1, heads, queries, keys, element_size);
  return double(slice.batch) * double(slice.heads) * double(slice.queries) * double(keys);
}

double denoise_elements(const FluxTransformerConfig& config, const EstimateInputs& in) {
  const int64_t image_tokens = (in.height / 16) * (in.width / 16);
  const int64_t tokens = image_tokens + in.text_tokens;
  const double hidden = double(tokens) * double(config.inner_dim());
  return 26.0 * hidden + attention_score_elements(in.attention, config.num_attention_heads,
                                                  tokens, tokens, in.element_size);
}

// One decode of a latent map of latent_h x latent_w: the larger of the mid block (its
// attention's scores over every latent position, next to a few latent-sized maps) and the
// last up block (full-resolution maps); the two never coexist.
double vae_map_elements(const AutoencoderKLConfig& config, const AttentionOptions& attention,
                        int64_t latent_h, int64_t latent_w, int64_t element_size) {
  const int64_t f = config.scale_factor();
  const double pixels = double(latent_h * f) * double(latent_w * f);
  const int64_t first = config.block_out_channels.empty() ? 64 : config.block_out_channels.front();
  const int64_t last = config.block_out_channels.empty() ? 64 : config.block_out_channels.back();
  const int64_t positions = latent_h * latent_w;
  const double mid_block =
      5.0 * double(last) * double(positions) +
      (config.mid_block_add_attention
           ? attention_score_elements(attention, 1, positions, positions, element_size)
           : 0.0);
  return std::max(mid_block, 5.0 * double(first) * pixels);
}

// Bytes of one whole decode: the decoder's maps in the compute dtype, the image in float32
// (and, with tiling, the two rows of decoded tiles tiled_decode holds, in float32).
double vae_bytes(const AutoencoderKLConfig& config, const EstimateInputs& in) {
  const int64_t f = config.scale_factor();
  const int64_t latent_h = in.height / f;
  const int64_t latent_w = in.width / f;
  const double image = 4.0 * 3.0 * double(in.height) * double(in.width);
  const int64_t tile = in.vae.tile.tile_size / f;
  if (in.vae.tiling && (latent_h > tile || latent_w > tile)) {
    const double tile_map = vae_map_elements(config, in.attention, std::min(tile, latent_h),
                                             std::min(tile, latent_w), in.element_size);
    const double rows = 4.0 * 2.0 * 3.0 * double(in.vae.tile.tile_size) * double(in.width);
    return tile_map * double(in.element_size) + rows + image;
  }
  return vae_map_elements(config, in.attention, latent_h, latent_w, in.element_size) *
             double(in.element_size) +
         image;
}

}  // namespace

ActivationEstimate estimate_activations(const FluxTransformerConfig& transformer,
                                        const AutoencoderKLConfig& vae,
                                        const EstimateInputs& inputs) {
  ActivationEstimate estimate;
  estimate.denoise_bytes = int64_t(denoise_elements(transformer, inputs) *
                                   double(inputs.element_size) * kEstimateMargin);
  estimate.vae_decode_bytes = int64_t(vae_bytes(vae, inputs) * kEstimateMargin);
  return estimate;
}

}  // namespace flx::flux
