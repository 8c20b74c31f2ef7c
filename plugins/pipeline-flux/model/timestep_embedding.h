// timestep_embedding.h — the sinusoidal embedding of (fractional) timesteps, diffusers'
// get_timestep_embedding.
#ifndef FLX_FLUX_MODEL_TIMESTEP_EMBEDDING_H_
#define FLX_FLUX_MODEL_TIMESTEP_EMBEDDING_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace flx::flux {

// For timesteps t [N] returns float32 [N, dim]: with half = dim / 2 and
// f_j = exp(-ln(max_period) * j / (half - downscale_freq_shift)), the columns are
// sin(scale * t f_j) then cos(scale * t f_j), or cos first when flip_sin_to_cos; an odd dim
// gets a zero last column. FLUX uses dim 256, flip_sin_to_cos, shift 0, scale 1.
at::Tensor timestep_embedding(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos,
                              double downscale_freq_shift, double scale = 1.0,
                              double max_period = 10000.0);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_TIMESTEP_EMBEDDING_H_
