#include "model/timestep_embedding.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

namespace flx::flux {

at::Tensor timestep_embedding(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos,
                              double downscale_freq_shift, double scale, double max_period) {
  if (timesteps.dim() != 1) {
    throw std::invalid_argument("timestep_embedding: timesteps must be a 1-D tensor");
  }
  const int64_t half = dim / 2;
  const at::TensorOptions floats = at::TensorOptions().dtype(at::kFloat).device(timesteps.device());
  at::Tensor exponent = at::arange(0, half, floats) * -std::log(max_period);
  exponent = exponent / (static_cast<double>(half) - downscale_freq_shift);
  at::Tensor angles = timesteps.unsqueeze(1).to(at::kFloat) * at::exp(exponent).unsqueeze(0);
  angles = angles * scale;
  at::Tensor embedding = at::cat({at::sin(angles), at::cos(angles)}, -1);
  if (flip_sin_to_cos) {
    embedding = at::cat({embedding.slice(1, half), embedding.slice(1, 0, half)}, -1);
  }
  if (dim % 2 == 1) embedding = at::constant_pad_nd(embedding, {0, 1, 0, 0});
  return embedding;
}

}  // namespace flx::flux
