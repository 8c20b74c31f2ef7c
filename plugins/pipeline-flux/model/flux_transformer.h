// flux_transformer.h — diffusers' FluxTransformer2DModel: the rectified-flow transformer that
// predicts the velocity of packed image latents given text embeddings and a timestep.
#ifndef FLX_FLUX_MODEL_FLUX_TRANSFORMER_H_
#define FLX_FLUX_MODEL_FLUX_TRANSFORMER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/attention.h"
#include "model/block_hook.h"
#include "model/flux_blocks.h"
#include "model/json_config.h"
#include "model/layers.h"
#include "model/weights.h"

namespace flx::flux {

// The fields of transformer/config.json the model uses.
struct FluxTransformerConfig {
  int64_t patch_size = 1;
  int64_t in_channels = 64;
  int64_t out_channels = 64;  // "out_channels": null means in_channels
  int64_t num_layers = 19;
  int64_t num_single_layers = 38;
  int64_t attention_head_dim = 128;
  int64_t num_attention_heads = 24;
  int64_t joint_attention_dim = 4096;
  int64_t pooled_projection_dim = 768;
  bool guidance_embeds = false;
  std::vector<int64_t> axes_dims_rope{16, 56, 56};

  int64_t inner_dim() const { return num_attention_heads * attention_head_dim; }

  // Reads `config`; throws LoadError naming the file and key for a missing or bad value,
  // including axes_dims_rope not summing to attention_head_dim.
  static FluxTransformerConfig from_json(const JsonConfig& config);
};

// The inputs of one transformer evaluation (batch B, N image tokens, L text tokens).
struct FluxTransformerInputs {
  at::Tensor hidden_states;            // [B, N, in_channels], packed latents
  at::Tensor encoder_hidden_states;    // [B, L, joint_attention_dim], T5 embeddings
  at::Tensor pooled_projections;       // [B, pooled_projection_dim], CLIP pooled embedding
  at::Tensor timestep;                 // [B], t / 1000 as the pipeline passes it
  at::Tensor img_ids;                  // [N, 3]
  at::Tensor txt_ids;                  // [L, 3]
  std::optional<at::Tensor> guidance;  // [B], only for guidance-distilled models
  // How every block's attention bounds its score matrix.
  AttentionOptions attention;
  // Called around each of the num_layers + num_single_layers blocks.
  BlockHook block_hook;
};

class FluxTransformer {
 public:
  // RoPE base used by every FLUX.1 model (diffusers hard-codes it too).
  static constexpr double kRopeTheta = 10000.0;

  // Loads the diffusers-layout weights, checking every shape against `config`.
  FluxTransformer(const FluxTransformerConfig& config, const Weights& weights);

  // The predicted velocity [B, N, patch^2 * out_channels]. Throws std::invalid_argument when
  // guidance is given to a model without guidance embedding or missing for one with it.
  at::Tensor forward(const FluxTransformerInputs& inputs) const;

  // The conditioning vector [B, inner_dim] from timestep, guidance and pooled text.
  at::Tensor conditioning(const at::Tensor& timestep, const std::optional<at::Tensor>& guidance,
                          const at::Tensor& pooled) const;

  const FluxTransformerConfig& config() const { return config_; }
  // The weight-name prefixes of the blocks in the order forward() runs them
  // ("transformer_blocks.0.", ..., "single_transformer_blocks.0.", ...).
  std::vector<std::string> block_prefixes() const;
  // Calls `visit` with every linear layer (what a LoRA adapter may change).
  void for_each_linear(const std::function<void(const Linear&)>& visit) const;

 private:
  struct MlpEmbedder {  // TimestepEmbedding and PixArtAlphaTextProjection: linear, silu, linear
    Linear linear_1, linear_2;
    at::Tensor operator()(const at::Tensor& x) const;
  };

  FluxTransformerConfig config_;
  Linear x_embedder_, context_embedder_;
  MlpEmbedder timestep_embedder_, text_embedder_;
  std::optional<MlpEmbedder> guidance_embedder_;
  std::vector<FluxDoubleBlock> double_blocks_;
  std::vector<FluxSingleBlock> single_blocks_;
  AdaptiveModulation norm_out_;
  LayerNorm final_norm_;
  Linear proj_out_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_FLUX_TRANSFORMER_H_
