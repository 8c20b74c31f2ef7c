#include "model/vae_blocks.h"

#include <ATen/ATen.h>

#include <string>

#include "model/attention.h"
#include "model/cancellation.h"

namespace flx::flux {

VaeResnetBlock::VaeResnetBlock(const Weights& weights, int64_t in_channels, int64_t out_channels,
                               const VaeBlockSettings& settings)
    : activation_(settings.activation),
      norm1_(GroupNorm::load(weights, "norm1", settings.groups, in_channels, settings.eps)),
      norm2_(GroupNorm::load(weights, "norm2", settings.groups, out_channels, settings.eps)),
      conv1_(Conv2d::load(weights, "conv1", in_channels, out_channels, 3, 1, 1)),
      conv2_(Conv2d::load(weights, "conv2", out_channels, out_channels, 3, 1, 1)) {
  if (in_channels != out_channels) {
    conv_shortcut_ = Conv2d::load(weights, "conv_shortcut", in_channels, out_channels, 1, 1, 0);
  }
}

at::Tensor VaeResnetBlock::forward(const at::Tensor& x) const {
  // Activations and the residual add run in place on tensors made here, so a block holds one
  // feature map fewer at a time (the VAE's activations dominate its memory at large sizes).
  at::Tensor h = norm1_(x);
  h = conv1_(activate_(activation_, h));
  h = norm2_(h);
  h = conv2_(activate_(activation_, h));
  return h.add_(conv_shortcut_ ? (*conv_shortcut_)(x) : x);
}

VaeAttention::VaeAttention(const Weights& weights, int64_t channels,
                           const VaeBlockSettings& settings)
    : group_norm_(GroupNorm::load(weights, "group_norm", settings.groups, channels, settings.eps)),
      to_q_(Linear::load(weights, "to_q", channels, channels)),
      to_k_(Linear::load(weights, "to_k", channels, channels)),
      to_v_(Linear::load(weights, "to_v", channels, channels)),
      to_out_(Linear::load(weights, "to_out.0", channels, channels)) {}

at::Tensor VaeAttention::forward(const at::Tensor& x, const AttentionOptions& attention) const {
  const int64_t batch = x.size(0);
  const int64_t channels = x.size(1);
  const int64_t height = x.size(2);
  const int64_t width = x.size(3);
  // The same views diffusers' AttnProcessor2_0 takes, so every op sees the same layout.
  at::Tensor tokens = x.view({batch, channels, height * width}).transpose(1, 2);
  tokens = group_norm_(tokens.transpose(1, 2)).transpose(1, 2);
  auto one_head = [&](const at::Tensor& t) {
    return t.view({batch, -1, 1, channels}).transpose(1, 2);
  };
  const at::Tensor q = one_head(to_q_(tokens));
  const at::Tensor k = one_head(to_k_(tokens));
  const at::Tensor v = one_head(to_v_(tokens));
  at::Tensor out =
      flux::attention(q, k, v, attention).transpose(1, 2).reshape({batch, -1, channels});
  out = to_out_(out.to(q.scalar_type()));
  out = out.transpose(-1, -2).reshape({batch, channels, height, width});
  return out + x;
}

VaeMidBlock::VaeMidBlock(const Weights& weights, int64_t channels, bool add_attention,
                         const VaeBlockSettings& settings) {
  resnets_.emplace_back(weights.scoped("resnets.0."), channels, channels, settings);
  if (add_attention) attention_.emplace(weights.scoped("attentions.0."), channels, settings);
  resnets_.emplace_back(weights.scoped("resnets.1."), channels, channels, settings);
}

at::Tensor VaeMidBlock::forward(const at::Tensor& x, const AttentionOptions& attention) const {
  at::Tensor h = resnets_[0].forward(x);
  if (attention_) h = attention_->forward(h, attention);
  return resnets_[1].forward(h);
}

VaeDownBlock::VaeDownBlock(const Weights& weights, int64_t in_channels, int64_t out_channels,
                           int64_t num_layers, bool add_downsample,
                           const VaeBlockSettings& settings) {
  for (int64_t i = 0; i < num_layers; ++i) {
    resnets_.emplace_back(weights.scoped("resnets." + std::to_string(i) + "."),
                          i == 0 ? in_channels : out_channels, out_channels, settings);
  }
  if (add_downsample) {
    downsample_ = Conv2d::load(weights, "downsamplers.0.conv", out_channels, out_channels, 3, 2, 0);
  }
}

at::Tensor VaeDownBlock::forward(const at::Tensor& x) const {
  at::Tensor h = x;
  for (const VaeResnetBlock& resnet : resnets_) h = resnet.forward(h);
  if (downsample_) h = (*downsample_)(at::constant_pad_nd(h, {0, 1, 0, 1}, 0));
  return h;
}

VaeUpBlock::VaeUpBlock(const Weights& weights, int64_t in_channels, int64_t out_channels,
                       int64_t num_layers, bool add_upsample, const VaeBlockSettings& settings) {
  for (int64_t i = 0; i < num_layers; ++i) {
    resnets_.emplace_back(weights.scoped("resnets." + std::to_string(i) + "."),
                          i == 0 ? in_channels : out_channels, out_channels, settings);
  }
  if (add_upsample) {
    upsample_conv_ =
        Conv2d::load(weights, "upsamplers.0.conv", out_channels, out_channels, 3, 1, 1);
  }
}

at::Tensor VaeUpBlock::forward(const at::Tensor& x) const {
  // The last up blocks run at full resolution: check between their resnets too.
  at::Tensor h = x;
  for (const VaeResnetBlock& resnet : resnets_) {
    cancellation_point("in the VAE decoder");
    h = resnet.forward(h);
  }
  if (upsample_conv_) {
    cancellation_point("in the VAE decoder");
    h = at::upsample_nearest2d(h, c10::nullopt, at::ArrayRef<double>({2.0, 2.0}));
    h = (*upsample_conv_)(h);
  }
  return h;
}

}  // namespace flx::flux
