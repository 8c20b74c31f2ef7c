#include "model/t5_encoder.h"

#include <ATen/ATen.h>

#include <cmath>
#include <string>

#include "io/tensor.h"
#include "model/cancellation.h"
#include "model/token_ids.h"

namespace flx::flux {
namespace {

// T5Block keeps float16 activations finite by clamping after each sub-layer.
at::Tensor clamp_float16(const at::Tensor& x) {
  if (x.scalar_type() != at::kHalf) return x;
  const double max = 65504.0;
  const double limit = at::isinf(x).any().item<bool>() ? max - 1000.0 : max;
  return at::clamp(x, -limit, limit);
}

}  // namespace

T5Config T5Config::from_json(const JsonConfig& json) {
  T5Config config;
  config.vocab_size = json.get_int("vocab_size");
  config.d_model = json.get_int("d_model");
  config.d_kv = json.get_int("d_kv");
  config.d_ff = json.get_int("d_ff");
  config.num_layers = json.get_int("num_layers");
  config.num_heads = json.get_int("num_heads");
  config.relative_attention_num_buckets = json.get_int("relative_attention_num_buckets", 32);
  config.relative_attention_max_distance = json.get_int("relative_attention_max_distance", 128);
  config.layer_norm_epsilon = json.get_double("layer_norm_epsilon", 1e-6);

  const std::string projection = json.get_string("feed_forward_proj", "relu");
  const size_t dash = projection.find('-');
  const bool gated_spelling = dash != std::string::npos;
  if (gated_spelling && projection.substr(0, dash) != "gated") {
    throw LoadError(json.path() + ": key \"feed_forward_proj\" must be \"<act>\" or " +
                    "\"gated-<act>\", got \"" + projection + "\"");
  }
  // transformers' T5Config maps the legacy "gated-gelu" to gelu_new, but explicit
  // "dense_act_fn" / "is_gated_act" entries in the file override what it derived.
  std::string activation = gated_spelling ? projection.substr(dash + 1) : projection;
  if (projection == "gated-gelu") activation = "gelu_new";
  config.is_gated_act = json.get_bool("is_gated_act", gated_spelling);
  const std::string activation_key =
      json.has("dense_act_fn") ? "dense_act_fn" : "feed_forward_proj";
  config.dense_act_fn =
      parse_activation(json.get_string("dense_act_fn", activation), json.path(), activation_key);
  if (config.relative_attention_num_buckets < 4) {
    throw LoadError(json.path() + ": key \"relative_attention_num_buckets\" must be at least 4");
  }
  return config;
}

T5Encoder::T5Encoder(const T5Config& config, const Weights& weights) : config_(config) {
  const int64_t d_model = config.d_model;
  const int64_t inner = config.num_heads * config.d_kv;
  const std::string embedding_name =
      weights.contains("shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
  embed_tokens_ = weights.get(embedding_name, {config.vocab_size, d_model});
  const Weights encoder = weights.scoped("encoder.");
  for (int64_t i = 0; i < config.num_layers; ++i) {
    const Weights w = encoder.scoped("block." + std::to_string(i) + ".");
    Block block;
    block.attention_norm =
        RmsNorm::load(w, "layer.0.layer_norm", d_model, config.layer_norm_epsilon);
    block.q = Linear::load(w, "layer.0.SelfAttention.q", d_model, inner, false);
    block.k = Linear::load(w, "layer.0.SelfAttention.k", d_model, inner, false);
    block.v = Linear::load(w, "layer.0.SelfAttention.v", d_model, inner, false);
    block.o = Linear::load(w, "layer.0.SelfAttention.o", inner, d_model, false);
    block.ff_norm = RmsNorm::load(w, "layer.1.layer_norm", d_model, config.layer_norm_epsilon);
    if (config.is_gated_act) {
      block.wi_0 = Linear::load(w, "layer.1.DenseReluDense.wi_0", d_model, config.d_ff, false);
      block.wi_1 = Linear::load(w, "layer.1.DenseReluDense.wi_1", d_model, config.d_ff, false);
    } else {
      block.wi_0 = Linear::load(w, "layer.1.DenseReluDense.wi", d_model, config.d_ff, false);
    }
    block.wo = Linear::load(w, "layer.1.DenseReluDense.wo", config.d_ff, d_model, false);
    blocks_.push_back(std::move(block));
  }
  if (config.num_layers > 0) {
    relative_attention_bias_ =
        encoder.get("block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                    {config.relative_attention_num_buckets, config.num_heads});
  }
  final_layer_norm_ =
      RmsNorm::load(encoder, "final_layer_norm", d_model, config.layer_norm_epsilon);
}

at::Tensor T5Encoder::position_bias(int64_t length) const {
  const at::TensorOptions longs =
      at::TensorOptions().dtype(at::kLong).device(relative_attention_bias_.device());
  const at::Tensor context = at::arange(length, longs).unsqueeze(1);
  const at::Tensor memory = at::arange(length, longs).unsqueeze(0);
  at::Tensor relative = memory - context;

  // Bidirectional bucketing: half the buckets for keys after the query, half for keys before;
  // within each half, exact buckets up to max_exact and log-spaced buckets up to max_distance.
  const int64_t num_buckets = config_.relative_attention_num_buckets / 2;
  at::Tensor buckets = relative.gt(0).to(at::kLong) * num_buckets;
  relative = at::abs(relative);
  const int64_t max_exact = num_buckets / 2;
  const at::Tensor is_small = relative.lt(max_exact);
  const double log_ratio =
      std::log(static_cast<double>(config_.relative_attention_max_distance) / max_exact);
  at::Tensor large =
      (at::log(relative.to(at::kFloat) / max_exact) / log_ratio * (num_buckets - max_exact))
          .to(at::kLong) +
      max_exact;
  large = at::minimum(large, at::full_like(large, num_buckets - 1));
  buckets = buckets + at::where(is_small, relative, large);

  return at::embedding(relative_attention_bias_, buckets).permute({2, 0, 1}).unsqueeze(0);
}

at::Tensor T5Encoder::self_attention(const Block& block, const at::Tensor& x,
                                     const at::Tensor& bias) const {
  const int64_t batch = x.size(0);
  auto split_heads = [&](const at::Tensor& t) {
    return t.view({batch, -1, config_.num_heads, config_.d_kv}).transpose(1, 2);
  };
  const at::Tensor q = split_heads(block.q(x));
  const at::Tensor k = split_heads(block.k(x));
  const at::Tensor v = split_heads(block.v(x));
  // T5 does not scale the logits by 1/sqrt(d_kv): the scale is folded into the weights.
  const at::Tensor scores = at::matmul(q, k.transpose(3, 2)) + bias;
  const at::Tensor probs = at::softmax(scores.to(at::kFloat), -1).to(scores.scalar_type());
  const at::Tensor out = at::matmul(probs, v).transpose(1, 2).contiguous().view(
      {batch, -1, config_.num_heads * config_.d_kv});
  return block.o(out);
}

at::Tensor T5Encoder::feed_forward(const Block& block, const at::Tensor& x) const {
  at::Tensor hidden = activate(config_.dense_act_fn, block.wi_0(x));
  if (config_.is_gated_act) hidden = hidden * block.wi_1(x);
  return block.wo(hidden);
}

std::vector<std::string> T5Encoder::block_prefixes() const {
  std::vector<std::string> prefixes;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    prefixes.push_back("encoder.block." + std::to_string(i) + ".");
  }
  return prefixes;
}

at::Tensor T5Encoder::forward(const at::Tensor& input_ids, const BlockHook& block_hook) const {
  check_token_ids(input_ids, config_.vocab_size, "T5 encoder");
  const at::Tensor ids = input_ids.to(embed_tokens_.device(), at::kLong);
  at::Tensor hidden = at::embedding(embed_tokens_, ids);
  const std::vector<std::string> names = block_hook ? block_prefixes() : std::vector<std::string>();
  at::Tensor bias;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const Block& block = blocks_[i];
    cancellation_point("in the T5 encoder");
    if (block_hook) block_hook(names[i], true);
    if (i == 0) bias = position_bias(ids.size(1)).to(hidden.scalar_type());
    hidden = clamp_float16(hidden + self_attention(block, block.attention_norm(hidden), bias));
    hidden = clamp_float16(hidden + feed_forward(block, block.ff_norm(hidden)));
    if (block_hook) block_hook(names[i], false);
  }
  return final_layer_norm_(hidden);
}

}  // namespace flx::flux
