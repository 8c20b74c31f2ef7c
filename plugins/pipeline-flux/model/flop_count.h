// flop_count.h — the floating-point operations one transformer step and one VAE decode
// perform, counted from the component configs and the token counts, for the benchmark's
// achieved-GFLOP/s figures (bench/flux). A multiply-add counts as 2. Only the matrix products
// are counted: the linear layers, convolutions and the two attention products (QK^T and
// scores x V). Norms, activations, softmax, RoPE and residual adds are a few per element, well
// under 1% of the total at FLUX.1's widths, and are left out as GEMM-roof comparisons
// usually do.
#ifndef FLX_FLUX_MODEL_FLOP_COUNT_H_
#define FLX_FLUX_MODEL_FLOP_COUNT_H_

#include <cstdint>

#include "model/autoencoder_kl.h"
#include "model/flux_transformer.h"

namespace flx::flux {

// One FluxTransformer evaluation for one image: `image_tokens` packed latent tokens
// ((height / 16) x (width / 16) for FLUX.1) and `text_tokens` T5 tokens. Counts the time,
// guidance (when the config has it) and pooled-text embedders, the image and context
// embedders, every double- and single-stream block (adaLN modulation, Q/K/V, attention over
// image + text tokens, output projections, MLPs) and the output norm and projection.
double transformer_step_flops(const FluxTransformerConfig& config, int64_t image_tokens,
                              int64_t text_tokens);

// One AutoencoderKL decode of one latent map of latent_height x latent_width (the image is
// scale_factor() times larger): post_quant_conv, conv_in, the mid block (resnets and
// single-head attention over every position), the up blocks (resnets, shortcuts, upsampling
// convs) and conv_out.
double vae_decode_flops(const AutoencoderKLConfig& config, int64_t latent_height,
                        int64_t latent_width);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_FLOP_COUNT_H_
