#include "model/image_edit.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "model/latents.h"

namespace flx::flux {

int edit_start_step(int steps, double strength) {
  const double init = std::min(steps * strength, static_cast<double>(steps));
  const int start = static_cast<int>(std::max(steps - init, 0.0));
  if (steps - start < 1) {
    throw std::invalid_argument("strength " + std::to_string(strength) + " with " +
                                std::to_string(steps) +
                                " steps leaves no step to run; raise strength or steps");
  }
  return start;
}

at::Tensor image_to_vae_input(const std::vector<uint8_t>& rgb, int64_t width, int64_t height,
                              c10::ScalarType dtype) {
  if (static_cast<int64_t>(rgb.size()) != width * height * 3) {
    throw std::invalid_argument("the edit's image is not " + std::to_string(width) + "x" +
                                std::to_string(height) + " RGB");
  }
  const at::Tensor bytes =
      at::from_blob(const_cast<uint8_t*>(rgb.data()), {height, width, 3}, at::kByte);
  const at::Tensor unit = bytes.to(at::kFloat) / 255.0;
  return (2.0 * unit - 1.0).permute({2, 0, 1}).unsqueeze(0).contiguous().to(dtype);
}

at::Tensor packed_latent_mask(const std::vector<uint8_t>& mask, int64_t width, int64_t height,
                              int64_t vae_scale, int64_t channels, c10::ScalarType dtype) {
  if (static_cast<int64_t>(mask.size()) != width * height) {
    throw std::invalid_argument("the edit's mask is not " + std::to_string(width) + "x" +
                                std::to_string(height));
  }
  const int64_t latent_height = height / vae_scale;
  const int64_t latent_width = width / vae_scale;
  at::Tensor grid = at::empty({1, 1, latent_height, latent_width}, at::kFloat);
  float* out = grid.data_ptr<float>();
  for (int64_t i = 0; i < latent_height; ++i) {
    for (int64_t j = 0; j < latent_width; ++j) {
      out[i * latent_width + j] = mask[(i * vae_scale) * width + j * vae_scale] >= 128 ? 1.f : 0.f;
    }
  }
  return pack_latents(grid.repeat({1, channels, 1, 1})).to(dtype);
}

at::Tensor scale_noise(const at::Tensor& sample, float sigma, const at::Tensor& noise) {
  const at::Tensor s = at::full({}, sigma, at::TensorOptions().dtype(at::kFloat))
                           .to(sample.scalar_type())
                           .to(sample.device());
  return s * noise + (1.0 - s) * sample;
}

at::Tensor blend_kept_area(const at::Tensor& latents, const at::Tensor& kept,
                           const at::Tensor& mask) {
  return (1 - mask) * kept + mask * latents;
}

}  // namespace flx::flux
