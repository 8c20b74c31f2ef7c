// vae_blocks.h — the convolutional blocks of diffusers' AutoencoderKL encoder and decoder
// (ResnetBlock2D, the mid-block attention, UNetMidBlock2D, DownEncoderBlock2D,
// UpDecoderBlock2D), in the "default" (group norm, no time embedding) variant the VAE uses.
#ifndef FLX_FLUX_MODEL_VAE_BLOCKS_H_
#define FLX_FLUX_MODEL_VAE_BLOCKS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "model/attention.h"
#include "model/layers.h"
#include "model/weights.h"

namespace flx::flux {

// What every block of one VAE shares.
struct VaeBlockSettings {
  int64_t groups = 32;  // norm_num_groups
  double eps = 1e-6;    // the VAE's resnet_eps
  Activation activation = Activation::kSilu;
};

// norm, act, conv3x3, norm, act, conv3x3, plus a 1x1 conv shortcut when channels change.
class VaeResnetBlock {
 public:
  VaeResnetBlock(const Weights& weights, int64_t in_channels, int64_t out_channels,
                 const VaeBlockSettings& settings);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  Activation activation_;
  GroupNorm norm1_, norm2_;
  Conv2d conv1_, conv2_;
  std::optional<Conv2d> conv_shortcut_;
};

// Single-head self-attention over the H*W positions of a feature map, after a group norm,
// with a residual connection; `attention` bounds the score matrix.
class VaeAttention {
 public:
  VaeAttention(const Weights& weights, int64_t channels, const VaeBlockSettings& settings);
  at::Tensor forward(const at::Tensor& x, const AttentionOptions& attention = {}) const;

 private:
  GroupNorm group_norm_;
  Linear to_q_, to_k_, to_v_, to_out_;
};

// resnet, [attention], resnet at the lowest resolution.
class VaeMidBlock {
 public:
  VaeMidBlock(const Weights& weights, int64_t channels, bool add_attention,
              const VaeBlockSettings& settings);
  at::Tensor forward(const at::Tensor& x, const AttentionOptions& attention = {}) const;

 private:
  std::vector<VaeResnetBlock> resnets_;
  std::optional<VaeAttention> attention_;
};

// `num_layers` resnets, then (unless it is the last block) a stride-2 3x3 conv after padding
// one zero row and column on the bottom and right.
class VaeDownBlock {
 public:
  VaeDownBlock(const Weights& weights, int64_t in_channels, int64_t out_channels,
               int64_t num_layers, bool add_downsample, const VaeBlockSettings& settings);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  std::vector<VaeResnetBlock> resnets_;
  std::optional<Conv2d> downsample_;
};

// `num_layers` resnets, then (unless it is the last block) nearest-neighbour 2x upsampling
// followed by a 3x3 conv.
class VaeUpBlock {
 public:
  VaeUpBlock(const Weights& weights, int64_t in_channels, int64_t out_channels, int64_t num_layers,
             bool add_upsample, const VaeBlockSettings& settings);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  std::vector<VaeResnetBlock> resnets_;
  std::optional<Conv2d> upsample_conv_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_VAE_BLOCKS_H_
