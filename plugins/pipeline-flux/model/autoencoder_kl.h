// autoencoder_kl.h — diffusers' AutoencoderKL: the VAE that maps images to latents (encoder)
// and latents back to images (decoder).
#ifndef FLX_FLUX_MODEL_AUTOENCODER_KL_H_
#define FLX_FLUX_MODEL_AUTOENCODER_KL_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "model/attention.h"
#include "model/json_config.h"
#include "model/layers.h"
#include "model/vae_blocks.h"
#include "model/vae_tiling.h"
#include "model/weights.h"

namespace flx::flux {

// The fields of vae/config.json the model uses.
struct AutoencoderKLConfig {
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  int64_t latent_channels = 4;
  std::vector<int64_t> block_out_channels{64};
  int64_t layers_per_block = 1;
  int64_t norm_num_groups = 32;
  Activation act_fn = Activation::kSilu;
  bool mid_block_add_attention = true;
  bool use_quant_conv = true;
  bool use_post_quant_conv = true;
  double scaling_factor = 0.18215;
  double shift_factor = 0.0;  // "shift_factor": null means 0

  // How much smaller the latent grid is than the image: 2^(number of blocks - 1).
  int64_t scale_factor() const { return int64_t{1} << (block_out_channels.size() - 1); }

  // Reads `config`; throws LoadError naming the file and key for a missing or bad value,
  // including block types other than DownEncoderBlock2D / UpDecoderBlock2D.
  static AutoencoderKLConfig from_json(const JsonConfig& config);
};

// How AutoencoderKL::decode trades speed for memory (the vae_slicing, vae_tiling,
// vae_tile_size and vae_tile_overlap settings). All off reproduces a plain decode bit for bit.
struct VaeDecodeOptions {
  // Decode the images of a batch one at a time. FluxPipeline::generate() already decodes one
  // image at a time, so this only changes batched calls of decode() and decode_latents().
  bool slicing = false;
  // Decode latent maps larger than one tile as blended tiles (see vae_tiling.h).
  bool tiling = false;
  VaeTiling tile;
};

// The diagonal Gaussian the encoder predicts for each latent.
struct LatentDistribution {
  at::Tensor mean;    // [B, latent_channels, h, w]
  at::Tensor logvar;  // same shape, clamped to [-30, 20]

  // mean + exp(logvar / 2) * randn(generator), the draw diffusers' sample() makes.
  at::Tensor sample(at::Generator generator) const;
};

class VaeEncoder {
 public:
  VaeEncoder(const AutoencoderKLConfig& config, const Weights& weights);
  // [B, in_channels, H, W] -> [B, 2 * latent_channels, H / f, W / f] (mean and log-variance).
  at::Tensor forward(const at::Tensor& image) const;

 private:
  Activation activation_;
  Conv2d conv_in_;
  std::vector<VaeDownBlock> down_blocks_;
  std::optional<VaeMidBlock> mid_block_;
  GroupNorm conv_norm_out_;
  Conv2d conv_out_;
};

class VaeDecoder {
 public:
  VaeDecoder(const AutoencoderKLConfig& config, const Weights& weights);
  // [B, latent_channels, h, w] -> [B, out_channels, h * f, w * f].
  at::Tensor forward(const at::Tensor& latents, const AttentionOptions& attention = {}) const;

 private:
  Activation activation_;
  Conv2d conv_in_;
  std::optional<VaeMidBlock> mid_block_;
  std::vector<VaeUpBlock> up_blocks_;
  GroupNorm conv_norm_out_;
  Conv2d conv_out_;
};

class AutoencoderKL {
 public:
  // Loads "encoder.*", "decoder.*" and, when the config asks for them, "quant_conv" and
  // "post_quant_conv", checking every shape against `config`.
  AutoencoderKL(const AutoencoderKLConfig& config, const Weights& weights);

  // The latent distribution of images in [-1, 1], [B, in_channels, H, W] with H and W
  // multiples of scale_factor().
  LatentDistribution encode(const at::Tensor& image) const;
  // Images (about [-1, 1]) from latents [B, latent_channels, h, w] in the VAE's own space
  // (already unscaled and unshifted by the caller). `attention` bounds the mid-block attention
  // over all latent pixels, the largest single allocation of a whole decode (1024x1024 with
  // FLUX.1's VAE: 16384^2 float32 scores, 1 GiB). Throws std::invalid_argument naming the
  // setting when options.tiling is on and options.tile fails check_vae_tiling().
  at::Tensor decode(const at::Tensor& latents, const VaeDecodeOptions& options = {},
                    const AttentionOptions& attention = {}) const;

  const AutoencoderKLConfig& config() const { return config_; }

 private:
  at::Tensor decode_whole(const at::Tensor& latents, const AttentionOptions& attention) const;

  AutoencoderKLConfig config_;
  VaeEncoder encoder_;
  VaeDecoder decoder_;
  std::optional<Conv2d> quant_conv_;
  std::optional<Conv2d> post_quant_conv_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_AUTOENCODER_KL_H_
