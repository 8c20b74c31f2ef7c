#include "model/autoencoder_kl.h"

#include <ATen/ATen.h>

#include <string>

#include "io/tensor.h"
#include "model/cancellation.h"

namespace flx::flux {
namespace {

constexpr double kVaeEps = 1e-6;

VaeBlockSettings block_settings(const AutoencoderKLConfig& config) {
  return VaeBlockSettings{config.norm_num_groups, kVaeEps, config.act_fn};
}

void check_block_types(const JsonConfig& json, const std::string& key, const std::string& type,
                       size_t expected_count) {
  if (!json.has(key)) return;
  const std::vector<std::string> types = json.get_string_list(key);
  if (types.size() != expected_count) {
    throw LoadError(json.path() + ": key \"" + key + "\" lists " + std::to_string(types.size()) +
                    " blocks, but block_out_channels has " + std::to_string(expected_count));
  }
  for (const std::string& found : types) {
    if (found != type) {
      throw LoadError(json.path() + ": key \"" + key + "\" names \"" + found + "\"; only \"" +
                      type + "\" is supported");
    }
  }
}

}  // namespace

AutoencoderKLConfig AutoencoderKLConfig::from_json(const JsonConfig& json) {
  AutoencoderKLConfig config;
  config.in_channels = json.get_int("in_channels", 3);
  config.out_channels = json.get_int("out_channels", 3);
  config.latent_channels = json.get_int("latent_channels", 4);
  config.block_out_channels = json.get_int_list("block_out_channels");
  if (config.block_out_channels.empty()) {
    throw LoadError(json.path() + ": key \"block_out_channels\" must not be empty");
  }
  config.layers_per_block = json.get_int("layers_per_block", 1);
  config.norm_num_groups = json.get_int("norm_num_groups", 32);
  config.act_fn = parse_activation(json.get_string("act_fn", "silu"), json.path(), "act_fn");
  config.mid_block_add_attention = json.get_bool("mid_block_add_attention", true);
  config.use_quant_conv = json.get_bool("use_quant_conv", true);
  config.use_post_quant_conv = json.get_bool("use_post_quant_conv", true);
  config.scaling_factor = json.get_double("scaling_factor", 0.18215);
  config.shift_factor = json.get_double("shift_factor", 0.0);
  check_block_types(json, "down_block_types", "DownEncoderBlock2D",
                    config.block_out_channels.size());
  check_block_types(json, "up_block_types", "UpDecoderBlock2D", config.block_out_channels.size());
  for (int64_t channels : config.block_out_channels) {
    if (config.norm_num_groups <= 0 || channels % config.norm_num_groups != 0) {
      throw LoadError(json.path() + ": key \"block_out_channels\" holds " +
                      std::to_string(channels) + ", not a multiple of norm_num_groups " +
                      std::to_string(config.norm_num_groups));
    }
  }
  return config;
}

at::Tensor LatentDistribution::sample(at::Generator generator) const {
  const at::Tensor noise = at::randn(mean.sizes(), generator, mean.options());
  return mean + at::exp(logvar * 0.5) * noise;
}

VaeEncoder::VaeEncoder(const AutoencoderKLConfig& config, const Weights& weights)
    : activation_(config.act_fn),
      conv_in_(Conv2d::load(weights, "conv_in", config.in_channels,
                            config.block_out_channels.front(), 3, 1, 1)),
      conv_norm_out_(GroupNorm::load(weights, "conv_norm_out", config.norm_num_groups,
                                     config.block_out_channels.back(), kVaeEps)),
      conv_out_(Conv2d::load(weights, "conv_out", config.block_out_channels.back(),
                             2 * config.latent_channels, 3, 1, 1)) {
  const VaeBlockSettings settings = block_settings(config);
  const std::vector<int64_t>& channels = config.block_out_channels;
  int64_t previous = channels.front();
  for (size_t i = 0; i < channels.size(); ++i) {
    down_blocks_.emplace_back(weights.scoped("down_blocks." + std::to_string(i) + "."), previous,
                              channels[i], config.layers_per_block, i + 1 < channels.size(),
                              settings);
    previous = channels[i];
  }
  mid_block_.emplace(weights.scoped("mid_block."), channels.back(), config.mid_block_add_attention,
                     settings);
}

at::Tensor VaeEncoder::forward(const at::Tensor& image) const {
  at::Tensor h = conv_in_(image);
  for (const VaeDownBlock& block : down_blocks_) h = block.forward(h);
  h = mid_block_->forward(h);
  return conv_out_(activate(activation_, conv_norm_out_(h)));
}

VaeDecoder::VaeDecoder(const AutoencoderKLConfig& config, const Weights& weights)
    : activation_(config.act_fn),
      conv_in_(Conv2d::load(weights, "conv_in", config.latent_channels,
                            config.block_out_channels.back(), 3, 1, 1)),
      conv_norm_out_(GroupNorm::load(weights, "conv_norm_out", config.norm_num_groups,
                                     config.block_out_channels.front(), kVaeEps)),
      conv_out_(Conv2d::load(weights, "conv_out", config.block_out_channels.front(),
                             config.out_channels, 3, 1, 1)) {
  const VaeBlockSettings settings = block_settings(config);
  const std::vector<int64_t> reversed(config.block_out_channels.rbegin(),
                                      config.block_out_channels.rend());
  mid_block_.emplace(weights.scoped("mid_block."), reversed.front(), config.mid_block_add_attention,
                     settings);
  int64_t previous = reversed.front();
  for (size_t i = 0; i < reversed.size(); ++i) {
    up_blocks_.emplace_back(weights.scoped("up_blocks." + std::to_string(i) + "."), previous,
                            reversed[i], config.layers_per_block + 1, i + 1 < reversed.size(),
                            settings);
    previous = reversed[i];
  }
}

at::Tensor VaeDecoder::forward(const at::Tensor& latents, const AttentionOptions& attention) const {
  cancellation_point("in the VAE decoder");
  at::Tensor h = mid_block_->forward(conv_in_(latents), attention);
  for (const VaeUpBlock& block : up_blocks_) {
    cancellation_point("in the VAE decoder");
    h = block.forward(h);
  }
  return conv_out_(activate(activation_, conv_norm_out_(h)));
}

AutoencoderKL::AutoencoderKL(const AutoencoderKLConfig& config, const Weights& weights)
    : config_(config),
      encoder_(config, weights.scoped("encoder.")),
      decoder_(config, weights.scoped("decoder.")) {
  const int64_t latent = config.latent_channels;
  if (config.use_quant_conv) {
    quant_conv_ = Conv2d::load(weights, "quant_conv", 2 * latent, 2 * latent, 1, 1, 0);
  }
  if (config.use_post_quant_conv) {
    post_quant_conv_ = Conv2d::load(weights, "post_quant_conv", latent, latent, 1, 1, 0);
  }
}

LatentDistribution AutoencoderKL::encode(const at::Tensor& image) const {
  at::Tensor moments = encoder_.forward(image);
  if (quant_conv_) moments = (*quant_conv_)(moments);
  const std::vector<at::Tensor> halves = moments.chunk(2, 1);
  return LatentDistribution{halves[0], at::clamp(halves[1], -30.0, 20.0)};
}

at::Tensor AutoencoderKL::decode_whole(const at::Tensor& latents,
                                       const AttentionOptions& attention) const {
  const at::Tensor z = post_quant_conv_ ? (*post_quant_conv_)(latents) : latents;
  return decoder_.forward(z, attention);
}

at::Tensor AutoencoderKL::decode(const at::Tensor& latents, const VaeDecodeOptions& options,
                                 const AttentionOptions& attention) const {
  const int64_t scale_factor = config_.scale_factor();
  if (options.tiling) check_vae_tiling(options.tile, scale_factor);
  auto decode_one = [&](const at::Tensor& z) {
    if (options.tiling && needs_tiling(z, options.tile, scale_factor)) {
      return tiled_decode(z, options.tile, scale_factor,
                          [&](const at::Tensor& tile) { return decode_whole(tile, attention); });
    }
    return decode_whole(z, attention);
  };
  if (!options.slicing || latents.size(0) == 1) return decode_one(latents);
  std::vector<at::Tensor> images;
  for (const at::Tensor& item : latents.split(1)) images.push_back(decode_one(item));
  return at::cat(images);
}

}  // namespace flx::flux
