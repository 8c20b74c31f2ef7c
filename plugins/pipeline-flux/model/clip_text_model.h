// clip_text_model.h — transformers' CLIPTextModel (4.48 semantics), the encoder of the
// pooled prompt embedding FLUX conditions its modulation on.
#ifndef FLX_FLUX_MODEL_CLIP_TEXT_MODEL_H_
#define FLX_FLUX_MODEL_CLIP_TEXT_MODEL_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/json_config.h"
#include "model/layers.h"
#include "model/weights.h"

namespace flx::flux {

// The fields of text_encoder/config.json the model uses.
struct ClipTextConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t max_position_embeddings = 0;
  double layer_norm_eps = 1e-5;
  Activation hidden_act = Activation::kQuickGelu;
  // 2 is the legacy value of openai/CLIP and FLUX.1: pool at argmax(input_ids). Any other
  // value: pool at the first occurrence of this id.
  int64_t eos_token_id = 2;

  // Reads `config`; throws LoadError naming the file and key for a missing or bad value.
  static ClipTextConfig from_json(const JsonConfig& config);
};

// What the text model returns for a batch of token id sequences.
struct ClipTextOutput {
  at::Tensor last_hidden_state;  // [B, L, hidden], after the final layer norm
  at::Tensor pooled;             // [B, hidden], last_hidden_state at the pooling position
};

class ClipTextModel {
 public:
  // Loads the "text_model.*" weights (the layout of CLIPTextModel checkpoints) and checks
  // every shape against `config`.
  ClipTextModel(const ClipTextConfig& config, const Weights& weights);

  // Runs the encoder on `input_ids` [B, L] (int64, L <= max_position_embeddings), with the
  // causal self-attention mask and no padding mask, exactly as FluxPipeline calls it. Ids
  // are validated against the vocabulary; throws std::invalid_argument naming the position.
  ClipTextOutput forward(const at::Tensor& input_ids) const;

  const ClipTextConfig& config() const { return config_; }

 private:
  struct Layer {
    LayerNorm layer_norm1;
    Linear q_proj, k_proj, v_proj, out_proj;
    LayerNorm layer_norm2;
    Linear fc1, fc2;
  };

  at::Tensor self_attention(const Layer& layer, const at::Tensor& x,
                            const at::Tensor& causal_mask) const;
  at::Tensor pooling_positions(const at::Tensor& input_ids) const;

  ClipTextConfig config_;
  at::Tensor token_embedding_;
  at::Tensor position_embedding_;
  std::vector<Layer> layers_;
  LayerNorm final_layer_norm_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_CLIP_TEXT_MODEL_H_
