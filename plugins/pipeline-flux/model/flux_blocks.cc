#include "model/flux_blocks.h"

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "model/attention.h"

namespace flx::flux {
namespace {

// diffusers' blocks use LayerNorm(dim, elementwise_affine=False, eps=1e-6) and RMSNorm
// (eps=1e-6) on the per-head queries and keys.
constexpr double kNormEps = 1e-6;
constexpr int64_t kMlpRatio = 4;

// float16 activations are clipped to the finite range after each block, as in diffusers.
at::Tensor clip_float16(const at::Tensor& x) {
  if (x.scalar_type() != at::kHalf) return x;
  return x.clip(-65504.0, 65504.0);
}

// [B, S, heads * head_dim] -> [B, heads, S, head_dim]
at::Tensor split_heads(const at::Tensor& x, const FluxBlockShape& shape) {
  return x.view({x.size(0), -1, shape.num_heads, shape.head_dim}).transpose(1, 2);
}

// [B, heads, S, head_dim] -> [B, S, heads * head_dim]
at::Tensor merge_heads(const at::Tensor& x, const FluxBlockShape& shape) {
  return x.transpose(1, 2).reshape({x.size(0), -1, shape.num_heads * shape.head_dim});
}

}  // namespace

AdaptiveModulation AdaptiveModulation::load(const Weights& weights, const std::string& name,
                                            int64_t dim, int64_t conditioning_dim, int64_t chunks) {
  AdaptiveModulation modulation;
  modulation.linear = Linear::load(weights, name, conditioning_dim, chunks * dim);
  modulation.chunks = chunks;
  return modulation;
}

std::vector<at::Tensor> AdaptiveModulation::operator()(const at::Tensor& temb) const {
  return linear(at::silu(temb)).chunk(chunks, 1);
}

at::Tensor modulate(const LayerNorm& norm, const at::Tensor& x, const at::Tensor& shift,
                    const at::Tensor& scale) {
  // norm(x) * (1 + scale) + shift, in place on the norm's output.
  at::Tensor normed = norm(x);
  return normed.mul_((scale + 1).unsqueeze(1)).add_(shift.unsqueeze(1));
}

GeluFeedForward GeluFeedForward::load(const Weights& weights, const std::string& name, int64_t dim,
                                      int64_t hidden_dim) {
  GeluFeedForward ff;
  ff.proj_in = Linear::load(weights, name + ".net.0.proj", dim, hidden_dim);
  ff.proj_out = Linear::load(weights, name + ".net.2", hidden_dim, dim);
  return ff;
}

at::Tensor GeluFeedForward::operator()(const at::Tensor& x) const {
  at::Tensor hidden = proj_in(x);
  return proj_out(at::gelu_(hidden, "tanh"));
}

FluxDoubleBlock::FluxDoubleBlock(const FluxBlockShape& shape, const Weights& weights)
    : shape_(shape), norm_(LayerNorm::without_affine(shape.dim, kNormEps)) {
  const int64_t dim = shape.dim;
  norm1_ = AdaptiveModulation::load(weights, "norm1.linear", dim, dim, 6);
  norm1_context_ = AdaptiveModulation::load(weights, "norm1_context.linear", dim, dim, 6);
  const Weights attn = weights.scoped("attn.");
  to_q_ = Linear::load(attn, "to_q", dim, dim);
  to_k_ = Linear::load(attn, "to_k", dim, dim);
  to_v_ = Linear::load(attn, "to_v", dim, dim);
  to_out_ = Linear::load(attn, "to_out.0", dim, dim);
  add_q_proj_ = Linear::load(attn, "add_q_proj", dim, dim);
  add_k_proj_ = Linear::load(attn, "add_k_proj", dim, dim);
  add_v_proj_ = Linear::load(attn, "add_v_proj", dim, dim);
  to_add_out_ = Linear::load(attn, "to_add_out", dim, dim);
  norm_q_ = RmsNorm::load(attn, "norm_q", shape.head_dim, kNormEps);
  norm_k_ = RmsNorm::load(attn, "norm_k", shape.head_dim, kNormEps);
  norm_added_q_ = RmsNorm::load(attn, "norm_added_q", shape.head_dim, kNormEps);
  norm_added_k_ = RmsNorm::load(attn, "norm_added_k", shape.head_dim, kNormEps);
  ff_ = GeluFeedForward::load(weights, "ff", dim, kMlpRatio * dim);
  ff_context_ = GeluFeedForward::load(weights, "ff_context", dim, kMlpRatio * dim);
}

void FluxDoubleBlock::forward(at::Tensor& hidden, at::Tensor& context, const at::Tensor& temb,
                              const RopeTables& rope, const AttentionOptions& attention) const {
  // Chunk order of AdaLayerNormZero: shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp,
  // gate_mlp.
  const std::vector<at::Tensor> img_mod = norm1_(temb);
  const std::vector<at::Tensor> txt_mod = norm1_context_(temb);
  const at::Tensor norm_hidden = modulate(norm_, hidden, img_mod[0], img_mod[1]);
  const at::Tensor norm_context = modulate(norm_, context, txt_mod[0], txt_mod[1]);

  const at::Tensor q = norm_q_(split_heads(to_q_(norm_hidden), shape_));
  const at::Tensor k = norm_k_(split_heads(to_k_(norm_hidden), shape_));
  const at::Tensor v = split_heads(to_v_(norm_hidden), shape_);
  const at::Tensor context_q = norm_added_q_(split_heads(add_q_proj_(norm_context), shape_));
  const at::Tensor context_k = norm_added_k_(split_heads(add_k_proj_(norm_context), shape_));
  const at::Tensor context_v = split_heads(add_v_proj_(norm_context), shape_);

  const at::Tensor joint_q = apply_rope(at::cat({context_q, q}, 2), rope);
  const at::Tensor joint_k = apply_rope(at::cat({context_k, k}, 2), rope);
  const at::Tensor joint_v = at::cat({context_v, v}, 2);
  const at::Tensor joint =
      merge_heads(flux::attention(joint_q, joint_k, joint_v, attention), shape_)
          .to(joint_q.scalar_type());
  const int64_t text_length = context.size(1);
  const at::Tensor context_attn = to_add_out_(joint.slice(1, 0, text_length));
  const at::Tensor hidden_attn = to_out_(joint.slice(1, text_length));

  // Gated residual adds in place: `hidden` and `context` belong to the transformer's forward.
  hidden.addcmul_(img_mod[2].unsqueeze(1), hidden_attn);
  hidden.addcmul_(img_mod[5].unsqueeze(1), ff_(modulate(norm_, hidden, img_mod[3], img_mod[4])));

  context.addcmul_(txt_mod[2].unsqueeze(1), context_attn);
  context.addcmul_(txt_mod[5].unsqueeze(1),
                   ff_context_(modulate(norm_, context, txt_mod[3], txt_mod[4])));
  context = clip_float16(context);
}

FluxSingleBlock::FluxSingleBlock(const FluxBlockShape& shape, const Weights& weights)
    : shape_(shape), norm_(LayerNorm::without_affine(shape.dim, kNormEps)) {
  const int64_t dim = shape.dim;
  const int64_t mlp_dim = kMlpRatio * dim;
  norm_modulation_ = AdaptiveModulation::load(weights, "norm.linear", dim, dim, 3);
  proj_mlp_ = Linear::load(weights, "proj_mlp", dim, mlp_dim);
  proj_out_ = Linear::load(weights, "proj_out", dim + mlp_dim, dim);
  const Weights attn = weights.scoped("attn.");
  to_q_ = Linear::load(attn, "to_q", dim, dim);
  to_k_ = Linear::load(attn, "to_k", dim, dim);
  to_v_ = Linear::load(attn, "to_v", dim, dim);
  norm_q_ = RmsNorm::load(attn, "norm_q", shape.head_dim, kNormEps);
  norm_k_ = RmsNorm::load(attn, "norm_k", shape.head_dim, kNormEps);
}

at::Tensor FluxSingleBlock::forward(const at::Tensor& hidden, const at::Tensor& temb,
                                    const RopeTables& rope,
                                    const AttentionOptions& attention) const {
  // Chunk order of AdaLayerNormZeroSingle: shift, scale, gate.
  const std::vector<at::Tensor> mod = norm_modulation_(temb);
  const at::Tensor norm_hidden = modulate(norm_, hidden, mod[0], mod[1]);
  at::Tensor mlp = proj_mlp_(norm_hidden);
  at::gelu_(mlp, "tanh");

  const at::Tensor q = apply_rope(norm_q_(split_heads(to_q_(norm_hidden), shape_)), rope);
  const at::Tensor k = apply_rope(norm_k_(split_heads(to_k_(norm_hidden), shape_)), rope);
  const at::Tensor v = split_heads(to_v_(norm_hidden), shape_);
  const at::Tensor attn =
      merge_heads(flux::attention(q, k, v, attention), shape_).to(q.scalar_type());

  // hidden + gate * proj_out([attn, mlp]), in place on the projection's output.
  at::Tensor out = proj_out_(at::cat({attn, mlp}, 2));
  out.mul_(mod[2].unsqueeze(1)).add_(hidden);
  return clip_float16(out);
}

void FluxDoubleBlock::for_each_linear(const std::function<void(const Linear&)>& visit) const {
  for (const Linear* linear :
       {&norm1_.linear, &norm1_context_.linear, &to_q_, &to_k_, &to_v_, &to_out_, &add_q_proj_,
        &add_k_proj_, &add_v_proj_, &to_add_out_, &ff_.proj_in, &ff_.proj_out,
        &ff_context_.proj_in, &ff_context_.proj_out}) {
    visit(*linear);
  }
}

void FluxSingleBlock::for_each_linear(const std::function<void(const Linear&)>& visit) const {
  for (const Linear* linear :
       {&norm_modulation_.linear, &proj_mlp_, &proj_out_, &to_q_, &to_k_, &to_v_}) {
    visit(*linear);
  }
}

}  // namespace flx::flux
