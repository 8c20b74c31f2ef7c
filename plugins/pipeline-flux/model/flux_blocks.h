// flux_blocks.h — the two transformer blocks of FLUX (diffusers' FluxTransformerBlock and
// FluxSingleTransformerBlock) and the pieces they share.
#ifndef FLX_FLUX_MODEL_FLUX_BLOCKS_H_
#define FLX_FLUX_MODEL_FLUX_BLOCKS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

#include "model/attention.h"
#include "model/flux_rope.h"
#include "model/layers.h"
#include "model/weights.h"

namespace flx::flux {

// The sizes every block of one transformer shares.
struct FluxBlockShape {
  int64_t dim = 0;  // num_heads * head_dim
  int64_t num_heads = 0;
  int64_t head_dim = 0;
};

// AdaLayerNormZero / AdaLayerNormZeroSingle / AdaLayerNormContinuous: a linear map of
// silu(temb) into `chunks` per-channel vectors of size dim (shift, scale, gate, ...).
struct AdaptiveModulation {
  Linear linear;
  int64_t chunks = 0;

  static AdaptiveModulation load(const Weights& weights, const std::string& name, int64_t dim,
                                 int64_t conditioning_dim, int64_t chunks);
  // The `chunks` vectors [B, dim] computed from temb [B, conditioning_dim].
  std::vector<at::Tensor> operator()(const at::Tensor& temb) const;
};

// layer_norm(x) without affine parameters (eps 1e-6), then x * (1 + scale) + shift with
// scale and shift [B, dim] broadcast over the sequence.
at::Tensor modulate(const LayerNorm& norm, const at::Tensor& x, const at::Tensor& shift,
                    const at::Tensor& scale);

// diffusers' FeedForward with activation "gelu-approximate": linear, tanh GELU, linear.
struct GeluFeedForward {
  Linear proj_in;
  Linear proj_out;

  static GeluFeedForward load(const Weights& weights, const std::string& name, int64_t dim,
                              int64_t hidden_dim);
  at::Tensor operator()(const at::Tensor& x) const;
};

// A double-stream (MM-DiT) block: image and text tokens keep separate weights but attend
// jointly, text first.
class FluxDoubleBlock {
 public:
  // Loads "norm1", "norm1_context", "attn.*", "ff", "ff_context" under `weights`.
  FluxDoubleBlock(const FluxBlockShape& shape, const Weights& weights);

  // Updates image tokens `hidden` [B, N, dim] and text tokens `context` [B, L, dim] in the
  // conditioning `temb` [B, dim]; `rope` covers the L + N joint positions; `attention` bounds
  // the joint attention's score matrix.
  void forward(at::Tensor& hidden, at::Tensor& context, const at::Tensor& temb,
               const RopeTables& rope, const AttentionOptions& attention = {}) const;
  // Calls `visit` with each linear layer of the block.
  void for_each_linear(const std::function<void(const Linear&)>& visit) const;

 private:
  FluxBlockShape shape_;
  AdaptiveModulation norm1_, norm1_context_;
  LayerNorm norm_;
  Linear to_q_, to_k_, to_v_, to_out_;
  Linear add_q_proj_, add_k_proj_, add_v_proj_, to_add_out_;
  RmsNorm norm_q_, norm_k_, norm_added_q_, norm_added_k_;
  GeluFeedForward ff_, ff_context_;
};

// A single-stream block over the concatenated [text, image] sequence, with attention and MLP
// computed in parallel from one modulated input.
class FluxSingleBlock {
 public:
  // Loads "norm", "proj_mlp", "proj_out" and "attn.*" under `weights`.
  FluxSingleBlock(const FluxBlockShape& shape, const Weights& weights);

  // Returns the updated sequence `hidden` [B, L + N, dim]; `attention` bounds the score matrix.
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& temb, const RopeTables& rope,
                     const AttentionOptions& attention = {}) const;
  // Calls `visit` with each linear layer of the block.
  void for_each_linear(const std::function<void(const Linear&)>& visit) const;

 private:
  FluxBlockShape shape_;
  AdaptiveModulation norm_modulation_;
  LayerNorm norm_;
  Linear proj_mlp_, proj_out_;
  Linear to_q_, to_k_, to_v_;
  RmsNorm norm_q_, norm_k_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_FLUX_BLOCKS_H_
