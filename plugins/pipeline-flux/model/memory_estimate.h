// memory_estimate.h — how much memory one generation's activations need at most, from the
// component configs and the request's size, so a request that cannot fit is refused (or made
// to fit) before it starts instead of being found out by the out-of-memory killer.
//
// The estimate counts the tensors each phase holds at its widest point, in the compute dtype:
//   denoise: one single-stream block, the widest of the transformer (hidden states, the fused
//     QKV + MLP projection, Q/K/V with RoPE applied, the attention output, the MLP activation,
//     their concatenation, the output and the residual: 26 x tokens x inner_dim elements) plus
//     the score matrix of one attention slice (one: the softmax runs in place);
//   vae_decode: the larger of the mid block (its single-head attention's scores over every
//     latent pixel) and the widest up-block resnet at full resolution (five maps of the first
//     block's channels: input, two norms/activations, conv output, sum), plus the float32
//     image; with tiling, of one tile instead of the whole image, plus the blended rows;
//   text_encode: T5 at its sequence length (small beside the two above), not counted.
// On an accelerator with fused attention (libtorch >= 2.0) no score matrix exists, so the
// estimate errs high there.
// Each is multiplied by kEstimateMargin for what the count leaves out (allocator rounding of up
// to 12.5%, temporaries of norms and activations). tests/unit/flux_model checks that the
// estimate bounds the buffer pool's measured live peak from above, within a small factor.
#ifndef FLX_FLUX_MODEL_MEMORY_ESTIMATE_H_
#define FLX_FLUX_MODEL_MEMORY_ESTIMATE_H_

#include <cstdint>

#include "model/attention.h"
#include "model/autoencoder_kl.h"
#include "model/flux_transformer.h"

namespace flx::flux {

constexpr double kEstimateMargin = 1.5;

struct ActivationEstimate {
  int64_t denoise_bytes = 0;
  int64_t vae_decode_bytes = 0;
  int64_t peak_bytes() const {
    return denoise_bytes > vae_decode_bytes ? denoise_bytes : vae_decode_bytes;
  }
};

struct EstimateInputs {
  int64_t width = 0;   // image pixels
  int64_t height = 0;
  int64_t text_tokens = 0;  // T5 tokens (max_sequence_length)
  int64_t element_size = 4;  // bytes per element of the compute dtype
  AttentionOptions attention;
  VaeDecodeOptions vae;
};

// The estimate for one image (images of a request run one after another).
ActivationEstimate estimate_activations(const FluxTransformerConfig& transformer,
                                        const AutoencoderKLConfig& vae,
                                        const EstimateInputs& inputs);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_MEMORY_ESTIMATE_H_
