// image_postprocess.h — diffusers' VaeImageProcessor.postprocess and numpy_to_pil: from VAE
// output to images in [0, 1] and to 8-bit RGB.
#ifndef FLX_FLUX_MODEL_IMAGE_POSTPROCESS_H_
#define FLX_FLUX_MODEL_IMAGE_POSTPROCESS_H_

#include <ATen/core/Tensor.h>

namespace flx::flux {

// [B, C, H, W] decoder output in about [-1, 1] -> float32 [B, H, W, C] in [0, 1]:
// clamp(x * 0.5 + 0.5, 0, 1), computed in the input dtype.
at::Tensor to_unit_images(const at::Tensor& decoded);

// float [B, H, W, C] in [0, 1] -> uint8 by round(x * 255), ties to even like numpy.
at::Tensor to_uint8_images(const at::Tensor& unit_images);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_IMAGE_POSTPROCESS_H_
