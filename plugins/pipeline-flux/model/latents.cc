#include "model/latents.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <stdexcept>
#include <string>

namespace flx::flux {

int64_t latent_size(int64_t pixels, int64_t vae_scale_factor) {
  return 2 * (pixels / (vae_scale_factor * 2));
}

at::Tensor initial_noise(int64_t channels, int64_t latent_height, int64_t latent_width,
                         uint64_t seed, c10::ScalarType dtype) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return initial_noise(channels, latent_height, latent_width, generator, dtype);
}

at::Tensor initial_noise(int64_t channels, int64_t latent_height, int64_t latent_width,
                         at::Generator& generator, c10::ScalarType dtype) {
  return at::randn({1, channels, latent_height, latent_width}, generator,
                   at::TensorOptions().dtype(dtype));
}

at::Tensor pack_latents(const at::Tensor& latents) {
  const int64_t batch = latents.size(0);
  const int64_t channels = latents.size(1);
  const int64_t height = latents.size(2);
  const int64_t width = latents.size(3);
  if (height % 2 != 0 || width % 2 != 0) {
    throw std::invalid_argument("pack_latents: latent size " + std::to_string(height) + "x" +
                                std::to_string(width) + " is not even");
  }
  return latents.view({batch, channels, height / 2, 2, width / 2, 2})
      .permute({0, 2, 4, 1, 3, 5})
      .reshape({batch, (height / 2) * (width / 2), channels * 4});
}

at::Tensor unpack_latents(const at::Tensor& packed, int64_t latent_height, int64_t latent_width) {
  const int64_t batch = packed.size(0);
  const int64_t channels = packed.size(2);
  return packed.view({batch, latent_height / 2, latent_width / 2, channels / 4, 2, 2})
      .permute({0, 3, 1, 4, 2, 5})
      .reshape({batch, channels / 4, latent_height, latent_width});
}

at::Tensor latent_image_ids(int64_t packed_height, int64_t packed_width, c10::ScalarType dtype) {
  const at::TensorOptions floats = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor rows = at::arange(packed_height, floats).view({packed_height, 1});
  const at::Tensor cols = at::arange(packed_width, floats).view({1, packed_width});
  const at::Tensor zeros = at::zeros({packed_height, packed_width}, floats);
  return at::stack({zeros, rows.expand({packed_height, packed_width}),
                    cols.expand({packed_height, packed_width})},
                   -1)
      .reshape({packed_height * packed_width, 3})
      .to(dtype);
}

at::Tensor text_ids(int64_t length, c10::ScalarType dtype) {
  return at::zeros({length, 3}, at::TensorOptions().dtype(dtype));
}

}  // namespace flx::flux
