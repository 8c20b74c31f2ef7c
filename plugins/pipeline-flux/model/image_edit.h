// image_edit.h — where an edit starts, as diffusers 0.32.2 FluxImg2ImgPipeline and
// FluxInpaintPipeline compute it: the image as the VAE sees it, the first step for a strength,
// the noised start, and the inpainting mask on the packed latent grid. The pipeline
// (flux_pipeline.cc) strings them together with one generator draw order:
//   1. the VAE posterior sample of the image (mean + std * randn, the image's latent shape);
//   2. the noise (the same shape), in the compute dtype;
// then latents = scale_noise(image latents, sigmas[start], noise), packed. Inpainting blends
// after every step: the kept area becomes the image latents noised to the next sigma (the
// same noise), and at the last step the clean image latents.
#ifndef FLX_FLUX_MODEL_IMAGE_EDIT_H_
#define FLX_FLUX_MODEL_IMAGE_EDIT_H_

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <vector>

#include "model/edit_images.h"

namespace flx::flux {

// The index of the first of `steps` steps an edit of `strength` runs (diffusers get_timesteps,
// in double arithmetic with truncation: init = min(steps * strength, steps), start =
// int(max(steps - init, 0))). Throws std::invalid_argument naming strength and steps when no
// step would be left.
int edit_start_step(int steps, double strength);

// [1, 3, height, width] in `dtype`: 2 * (byte / 255) - 1 computed in float32, then converted
// (VaeImageProcessor.preprocess, then the pipeline's cast).
at::Tensor image_to_vae_input(const std::vector<uint8_t>& rgb, int64_t width, int64_t height,
                              c10::ScalarType dtype);

// The mask on the packed latent grid, [1, L, 4 * channels] in `dtype`, 1 = repaint: the pixel
// mask binarized at half (>= 128) and sampled at the top-left pixel of every vae_scale x
// vae_scale block (F.interpolate nearest), repeated over the latent channels and packed.
at::Tensor packed_latent_mask(const std::vector<uint8_t>& mask, int64_t width, int64_t height,
                              int64_t vae_scale, int64_t channels, c10::ScalarType dtype);

// sigma * noise + (1 - sigma) * sample with sigma rounded to the sample's dtype and every
// operation in that dtype (FlowMatchEulerDiscreteScheduler.scale_noise).
at::Tensor scale_noise(const at::Tensor& sample, float sigma, const at::Tensor& noise);

// The inpainting blend after a step: (1 - mask) * kept + mask * latents.
at::Tensor blend_kept_area(const at::Tensor& latents, const at::Tensor& kept,
                           const at::Tensor& mask);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_IMAGE_EDIT_H_
