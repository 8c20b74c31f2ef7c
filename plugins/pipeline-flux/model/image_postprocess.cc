#include "model/image_postprocess.h"

#include <ATen/ATen.h>

namespace flx::flux {

at::Tensor to_unit_images(const at::Tensor& decoded) {
  return (decoded * 0.5 + 0.5).clamp(0.0, 1.0).permute({0, 2, 3, 1}).to(at::kFloat);
}

at::Tensor to_uint8_images(const at::Tensor& unit_images) {
  return (unit_images.to(at::kFloat) * 255).round().to(at::kByte);
}

}  // namespace flx::flux
