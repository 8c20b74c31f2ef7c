// t5_encoder.h — transformers' T5EncoderModel (4.48 semantics): the encoder stack of T5 v1.1
// that turns the prompt into the token embeddings the flow transformer attends to.
#ifndef FLX_FLUX_MODEL_T5_ENCODER_H_
#define FLX_FLUX_MODEL_T5_ENCODER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/block_hook.h"
#include "model/json_config.h"
#include "model/layers.h"
#include "model/weights.h"

namespace flx::flux {

// The fields of text_encoder_2/config.json the encoder uses.
struct T5Config {
  int64_t vocab_size = 0;
  int64_t d_model = 0;
  int64_t d_kv = 0;
  int64_t d_ff = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  double layer_norm_epsilon = 1e-6;
  // From "feed_forward_proj" ("gated-gelu", "relu", ...), unless the file states
  // "is_gated_act" / "dense_act_fn" itself, which then win, as in transformers.
  bool is_gated_act = false;
  Activation dense_act_fn = Activation::kRelu;

  // Reads `config`; throws LoadError naming the file and key for a missing or bad value.
  static T5Config from_json(const JsonConfig& config);
};

class T5Encoder {
 public:
  // Loads the encoder weights: the token embedding from "shared.weight" (T5EncoderModel ties
  // encoder.embed_tokens to it; "encoder.embed_tokens.weight" is used when "shared.weight" is
  // absent) and "encoder.block.N.*", checking every shape against `config`.
  T5Encoder(const T5Config& config, const Weights& weights);

  // The last hidden state [B, L, d_model] for `input_ids` [B, L]. No attention mask: padding
  // positions attend and are attended to, which is what FluxPipeline does. `block_hook` is
  // called around each block ("encoder.block.N."); the position bias is computed inside block
  // 0's call because its table is block 0's weight.
  at::Tensor forward(const at::Tensor& input_ids, const BlockHook& block_hook = {}) const;

  // The relative position bias [1, heads, length, length] of bidirectional attention, from
  // the first block's bucket table.
  at::Tensor position_bias(int64_t length) const;

  const T5Config& config() const { return config_; }
  // The weight-name prefixes of the blocks in the order forward() runs them
  // ("encoder.block.0.", ...).
  std::vector<std::string> block_prefixes() const;

 private:
  struct Block {
    RmsNorm attention_norm;
    Linear q, k, v, o;
    RmsNorm ff_norm;
    Linear wi_0, wi_1, wo;  // wi_1 is unused (undefined) when the FF is not gated
  };

  at::Tensor self_attention(const Block& block, const at::Tensor& x, const at::Tensor& bias) const;
  at::Tensor feed_forward(const Block& block, const at::Tensor& x) const;

  T5Config config_;
  at::Tensor embed_tokens_;
  at::Tensor relative_attention_bias_;
  std::vector<Block> blocks_;
  RmsNorm final_layer_norm_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_T5_ENCODER_H_
