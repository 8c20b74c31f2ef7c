#include "model/clip_text_model.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "io/tensor.h"
#include "model/token_ids.h"

namespace flx::flux {
namespace {

// The most negative finite value of `dtype`: transformers fills masked attention logits with
// torch.finfo(dtype).min, so the masked probabilities come out exactly zero.
double lowest_finite(c10::ScalarType dtype) {
  switch (dtype) {
    case at::kHalf:
      return -65504.0;
    case at::kBFloat16:
      return -3.3895313892515355e38;
    case at::kDouble:
      return std::numeric_limits<double>::lowest();
    default:
      return std::numeric_limits<float>::lowest();
  }
}

}  // namespace

ClipTextConfig ClipTextConfig::from_json(const JsonConfig& json) {
  ClipTextConfig config;
  config.vocab_size = json.get_int("vocab_size");
  config.hidden_size = json.get_int("hidden_size");
  config.intermediate_size = json.get_int("intermediate_size");
  config.num_hidden_layers = json.get_int("num_hidden_layers");
  config.num_attention_heads = json.get_int("num_attention_heads");
  config.max_position_embeddings = json.get_int("max_position_embeddings");
  config.layer_norm_eps = json.get_double("layer_norm_eps", 1e-5);
  config.hidden_act =
      parse_activation(json.get_string("hidden_act", "quick_gelu"), json.path(), "hidden_act");
  config.eos_token_id = json.get_int("eos_token_id", 2);
  if (config.num_attention_heads <= 0 || config.hidden_size % config.num_attention_heads != 0) {
    throw LoadError(json.path() + ": key \"hidden_size\" (" + std::to_string(config.hidden_size) +
                    ") must be a multiple of \"num_attention_heads\" (" +
                    std::to_string(config.num_attention_heads) + ")");
  }
  return config;
}

ClipTextModel::ClipTextModel(const ClipTextConfig& config, const Weights& weights)
    : config_(config) {
  const Weights text = weights.scoped("text_model.");
  const int64_t hidden = config.hidden_size;
  token_embedding_ = text.get("embeddings.token_embedding.weight", {config.vocab_size, hidden});
  position_embedding_ =
      text.get("embeddings.position_embedding.weight", {config.max_position_embeddings, hidden});
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const Weights w = text.scoped("encoder.layers." + std::to_string(i) + ".");
    Layer layer;
    layer.layer_norm1 = LayerNorm::load(w, "layer_norm1", hidden, config.layer_norm_eps);
    layer.q_proj = Linear::load(w, "self_attn.q_proj", hidden, hidden);
    layer.k_proj = Linear::load(w, "self_attn.k_proj", hidden, hidden);
    layer.v_proj = Linear::load(w, "self_attn.v_proj", hidden, hidden);
    layer.out_proj = Linear::load(w, "self_attn.out_proj", hidden, hidden);
    layer.layer_norm2 = LayerNorm::load(w, "layer_norm2", hidden, config.layer_norm_eps);
    layer.fc1 = Linear::load(w, "mlp.fc1", hidden, config.intermediate_size);
    layer.fc2 = Linear::load(w, "mlp.fc2", config.intermediate_size, hidden);
    layers_.push_back(std::move(layer));
  }
  final_layer_norm_ = LayerNorm::load(text, "final_layer_norm", hidden, config.layer_norm_eps);
}

at::Tensor ClipTextModel::self_attention(const Layer& layer, const at::Tensor& x,
                                         const at::Tensor& causal_mask) const {
  const int64_t batch = x.size(0);
  const int64_t length = x.size(1);
  const int64_t heads = config_.num_attention_heads;
  const int64_t head_dim = config_.hidden_size / heads;
  const double scale = std::pow(static_cast<double>(head_dim), -0.5);
  // transformers' eager CLIPAttention: the query is scaled before the product and the heads
  // are folded into the batch for bmm.
  auto split_heads = [&](const at::Tensor& t) {
    return t.view({batch, length, heads, head_dim})
        .transpose(1, 2)
        .contiguous()
        .view({batch * heads, length, head_dim});
  };
  const at::Tensor q = split_heads(layer.q_proj(x) * scale);
  const at::Tensor k = split_heads(layer.k_proj(x));
  const at::Tensor v = split_heads(layer.v_proj(x));
  at::Tensor scores = at::bmm(q, k.transpose(1, 2));
  scores = (scores.view({batch, heads, length, length}) + causal_mask)
               .view({batch * heads, length, length});
  const at::Tensor probs = at::softmax(scores, -1);
  const at::Tensor out = at::bmm(probs, v)
                             .view({batch, heads, length, head_dim})
                             .transpose(1, 2)
                             .reshape({batch, length, config_.hidden_size});
  return layer.out_proj(out);
}

at::Tensor ClipTextModel::pooling_positions(const at::Tensor& input_ids) const {
  const at::Tensor ids = input_ids.to(at::kInt);
  if (config_.eos_token_id == 2) return ids.argmax(-1);
  return ids.eq(config_.eos_token_id).to(at::kInt).argmax(-1);
}

ClipTextOutput ClipTextModel::forward(const at::Tensor& input_ids) const {
  check_token_ids(input_ids, config_.vocab_size, "CLIP text encoder");
  const int64_t length = input_ids.size(1);
  if (length > config_.max_position_embeddings) {
    throw std::invalid_argument("CLIP text encoder: " + std::to_string(length) +
                                " tokens exceed max_position_embeddings " +
                                std::to_string(config_.max_position_embeddings));
  }
  const at::Tensor ids = input_ids.to(token_embedding_.device(), at::kLong);
  const at::Tensor positions =
      at::arange(length, at::TensorOptions().dtype(at::kLong).device(ids.device())).unsqueeze(0);
  at::Tensor hidden =
      at::embedding(token_embedding_, ids) + at::embedding(position_embedding_, positions);

  const at::Tensor causal_mask =
      at::full({length, length}, lowest_finite(hidden.scalar_type()), hidden.options())
          .triu(1)
          .view({1, 1, length, length});
  for (const Layer& layer : layers_) {
    at::Tensor residual = hidden;
    hidden = residual + self_attention(layer, layer.layer_norm1(hidden), causal_mask);
    residual = hidden;
    hidden =
        residual + layer.fc2(activate(config_.hidden_act, layer.fc1(layer.layer_norm2(hidden))));
  }
  ClipTextOutput output;
  output.last_hidden_state = final_layer_norm_(hidden);
  const at::Tensor rows = at::arange(ids.size(0), ids.options());
  output.pooled = output.last_hidden_state.index({rows, pooling_positions(ids).to(at::kLong)});
  return output;
}

}  // namespace flx::flux
