// latent_preview.h — a cheap look at an image while it is denoised: the model-space latents
// (16 channels for FLUX.1) projected linearly onto RGB, one pixel per latent pixel (1/8 of
// the image's sides). It costs a small matmul, against a VAE decode that costs more than a
// denoising step, so a streaming client can see the picture form.
#ifndef FLX_FLUX_MODEL_LATENT_PREVIEW_H_
#define FLX_FLUX_MODEL_LATENT_PREVIEW_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace flx::flux {

struct PreviewImage {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<uint8_t> rgb;  // rows top to bottom, width * 3 bytes each
};

// The flow-matching estimate of the clean latents at a step: x0 = x_t - sigma * v, with v
// the transformer's prediction (the same shapes, packed or not).
at::Tensor predicted_clean_latents(const at::Tensor& latents, const at::Tensor& velocity,
                                   double sigma);

// The first image of `packed` ([B, tokens, 64], FluxPipeline's packed latents of a
// latent_height x latent_width map) as RGB. Latents with another channel count than 16 use
// the mean over channels as a grey level, so any model gives some preview.
PreviewImage latent_preview(const at::Tensor& packed, int64_t latent_height, int64_t latent_width);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_LATENT_PREVIEW_H_
