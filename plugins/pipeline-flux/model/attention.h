// attention.h — the one scaled-dot-product attention every network of the pipeline calls,
// kept in one place so a faster kernel can replace it without touching the networks.
#ifndef FLX_FLUX_MODEL_ATTENTION_H_
#define FLX_FLUX_MODEL_ATTENTION_H_

#include <ATen/core/Tensor.h>

namespace flx::flux {

// softmax(q k^T / sqrt(d)) v for q [B, H, Sq, d], k and v [B, H, Sk, d]; returns [B, H, Sq, d]
// in q's dtype. No mask: every query attends to every key (the flow transformer and the VAE
// attend over the whole sequence; CLIP and T5 have their own attention with a causal mask
// and a position bias respectively).
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_ATTENTION_H_
