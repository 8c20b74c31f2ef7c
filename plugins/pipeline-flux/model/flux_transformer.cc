#include "model/flux_transformer.h"

#include <ATen/ATen.h>

#include <numeric>
#include <stdexcept>
#include <string>

#include "io/tensor.h"
#include "model/cancellation.h"
#include "model/flux_rope.h"
#include "model/timestep_embedding.h"

namespace flx::flux {
namespace {

constexpr int64_t kTimestepChannels = 256;  // Timesteps(num_channels=256) in diffusers
constexpr double kTimestepScale = 1000.0;   // the model undoes the pipeline's t / 1000

}  // namespace

FluxTransformerConfig FluxTransformerConfig::from_json(const JsonConfig& json) {
  FluxTransformerConfig config;
  config.patch_size = json.get_int("patch_size", 1);
  config.in_channels = json.get_int("in_channels", 64);
  config.out_channels = json.get_int("out_channels", config.in_channels);
  config.num_layers = json.get_int("num_layers", 19);
  config.num_single_layers = json.get_int("num_single_layers", 38);
  config.attention_head_dim = json.get_int("attention_head_dim", 128);
  config.num_attention_heads = json.get_int("num_attention_heads", 24);
  config.joint_attention_dim = json.get_int("joint_attention_dim", 4096);
  config.pooled_projection_dim = json.get_int("pooled_projection_dim", 768);
  config.guidance_embeds = json.get_bool("guidance_embeds", false);
  if (json.has("axes_dims_rope")) config.axes_dims_rope = json.get_int_list("axes_dims_rope");
  const int64_t rope_dims =
      std::accumulate(config.axes_dims_rope.begin(), config.axes_dims_rope.end(), int64_t{0});
  if (rope_dims != config.attention_head_dim) {
    throw LoadError(json.path() + ": key \"axes_dims_rope\" sums to " + std::to_string(rope_dims) +
                    ", but must equal attention_head_dim " +
                    std::to_string(config.attention_head_dim));
  }
  if (config.in_channels % 4 != 0) {
    throw LoadError(json.path() + ": key \"in_channels\" (" + std::to_string(config.in_channels) +
                    ") must be a multiple of 4 (2x2 packed latent channels)");
  }
  return config;
}

at::Tensor FluxTransformer::MlpEmbedder::operator()(const at::Tensor& x) const {
  return linear_2(at::silu(linear_1(x)));
}

FluxTransformer::FluxTransformer(const FluxTransformerConfig& config, const Weights& weights)
    : config_(config), final_norm_(LayerNorm::without_affine(config.inner_dim(), 1e-6)) {
  const int64_t dim = config.inner_dim();
  x_embedder_ = Linear::load(weights, "x_embedder", config.in_channels, dim);
  context_embedder_ = Linear::load(weights, "context_embedder", config.joint_attention_dim, dim);
  const Weights embed = weights.scoped("time_text_embed.");
  timestep_embedder_ = {Linear::load(embed, "timestep_embedder.linear_1", kTimestepChannels, dim),
                        Linear::load(embed, "timestep_embedder.linear_2", dim, dim)};
  if (config.guidance_embeds) {
    guidance_embedder_ =
        MlpEmbedder{Linear::load(embed, "guidance_embedder.linear_1", kTimestepChannels, dim),
                    Linear::load(embed, "guidance_embedder.linear_2", dim, dim)};
  }
  text_embedder_ = {
      Linear::load(embed, "text_embedder.linear_1", config.pooled_projection_dim, dim),
      Linear::load(embed, "text_embedder.linear_2", dim, dim)};

  const FluxBlockShape shape{dim, config.num_attention_heads, config.attention_head_dim};
  for (int64_t i = 0; i < config.num_layers; ++i) {
    double_blocks_.emplace_back(shape,
                                weights.scoped("transformer_blocks." + std::to_string(i) + "."));
  }
  for (int64_t i = 0; i < config.num_single_layers; ++i) {
    single_blocks_.emplace_back(
        shape, weights.scoped("single_transformer_blocks." + std::to_string(i) + "."));
  }
  norm_out_ = AdaptiveModulation::load(weights, "norm_out.linear", dim, dim, 2);
  proj_out_ = Linear::load(weights, "proj_out", dim,
                           config.patch_size * config.patch_size * config.out_channels);
}

std::vector<std::string> FluxTransformer::block_prefixes() const {
  std::vector<std::string> prefixes;
  for (size_t i = 0; i < double_blocks_.size(); ++i) {
    prefixes.push_back("transformer_blocks." + std::to_string(i) + ".");
  }
  for (size_t i = 0; i < single_blocks_.size(); ++i) {
    prefixes.push_back("single_transformer_blocks." + std::to_string(i) + ".");
  }
  return prefixes;
}

void FluxTransformer::for_each_linear(const std::function<void(const Linear&)>& visit) const {
  for (const Linear* linear :
       {&x_embedder_, &context_embedder_, &timestep_embedder_.linear_1,
        &timestep_embedder_.linear_2, &text_embedder_.linear_1, &text_embedder_.linear_2,
        &norm_out_.linear, &proj_out_}) {
    visit(*linear);
  }
  if (guidance_embedder_) {
    visit(guidance_embedder_->linear_1);
    visit(guidance_embedder_->linear_2);
  }
  for (const FluxDoubleBlock& block : double_blocks_) block.for_each_linear(visit);
  for (const FluxSingleBlock& block : single_blocks_) block.for_each_linear(visit);
}

at::Tensor FluxTransformer::conditioning(const at::Tensor& timestep,
                                         const std::optional<at::Tensor>& guidance,
                                         const at::Tensor& pooled) const {
  const c10::ScalarType dtype = pooled.scalar_type();
  auto embed_time = [&](const at::Tensor& t, const MlpEmbedder& embedder) {
    const at::Tensor scaled = t.to(dtype) * kTimestepScale;
    return embedder(timestep_embedding(scaled, kTimestepChannels, /*flip_sin_to_cos=*/true,
                                       /*downscale_freq_shift=*/0.0)
                        .to(dtype));
  };
  at::Tensor time = embed_time(timestep, timestep_embedder_);
  if (guidance_embedder_) time = time + embed_time(*guidance, *guidance_embedder_);
  return time + text_embedder_(pooled);
}

at::Tensor FluxTransformer::forward(const FluxTransformerInputs& inputs) const {
  if (inputs.guidance.has_value() != config_.guidance_embeds) {
    throw std::invalid_argument(config_.guidance_embeds
                                    ? "FluxTransformer: this model embeds guidance; pass it"
                                    : "FluxTransformer: this model has no guidance embedding");
  }
  at::Tensor hidden = x_embedder_(inputs.hidden_states);
  const at::Tensor temb = conditioning(inputs.timestep, inputs.guidance, inputs.pooled_projections);
  at::Tensor context = context_embedder_(inputs.encoder_hidden_states);

  const RopeTables rope =
      flux_rope(at::cat({inputs.txt_ids, inputs.img_ids}, 0), config_.axes_dims_rope, kRopeTheta);
  const std::vector<std::string> blocks =
      inputs.block_hook ? block_prefixes() : std::vector<std::string>();
  size_t block = 0;
  for (const FluxDoubleBlock& double_block : double_blocks_) {
    cancellation_point("in the transformer");
    if (inputs.block_hook) inputs.block_hook(blocks[block], true);
    double_block.forward(hidden, context, temb, rope, inputs.attention);
    if (inputs.block_hook) inputs.block_hook(blocks[block++], false);
  }
  const int64_t text_length = context.size(1);
  hidden = at::cat({context, hidden}, 1);
  for (const FluxSingleBlock& single_block : single_blocks_) {
    cancellation_point("in the transformer");
    if (inputs.block_hook) inputs.block_hook(blocks[block], true);
    hidden = single_block.forward(hidden, temb, rope, inputs.attention);
    if (inputs.block_hook) inputs.block_hook(blocks[block++], false);
  }
  hidden = hidden.slice(1, text_length);

  // AdaLayerNormContinuous chunks (scale, shift), the reverse of the blocks' (shift, scale).
  const std::vector<at::Tensor> mod = norm_out_(temb);
  return proj_out_(final_norm_(hidden) * (mod[0] + 1).unsqueeze(1) + mod[1].unsqueeze(1));
}

}  // namespace flx::flux
