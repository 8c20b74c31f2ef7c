// noise_generator.h — the random generator the initial latents are drawn from: one cached CPU
// generator per compute device, reused across requests and re-seeded by each one.
//
// diffusers' semantics, which the goldens follow: the latents come from a CPU generator
// seeded with the request's seed (torch.Generator("cpu").manual_seed(seed)), drawn in the
// compute dtype and then moved to the device, so one seed gives the same noise on every
// device; image i of n uses seed + i. The host draws a seed for requests that give none, so
// every call re-seeds and every image can be reproduced from the seed it reports.
//
// What caching buys, honestly: on the CPU nothing measurable (re-seeding an mt19937 costs what
// constructing one does, microseconds against milliseconds of sampling). On CUDA a cached
// device (Philox) generator would save a per-request generator and the noise upload, but it
// would draw different numbers than the CPU and diffusers' CPU generator; we keep the CPU
// generator everywhere (the upload is 1 MiB at 1024x1024) and cache it per device so a
// pipeline on cuda:0 and one on cuda:1 never contend for one lock.
#ifndef FLX_FLUX_MODEL_NOISE_GENERATOR_H_
#define FLX_FLUX_MODEL_NOISE_GENERATOR_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <mutex>
#include <utility>

namespace flx::flux {

class NoiseGenerator {
 public:
  // The process-wide generator of `device`, created on first use; never destroyed.
  static NoiseGenerator& for_device(c10::Device device);

  NoiseGenerator();
  NoiseGenerator(const NoiseGenerator&) = delete;
  NoiseGenerator& operator=(const NoiseGenerator&) = delete;

  // initial_noise(channels, latent_height, latent_width, seed, dtype) of latents.h (the same
  // values, on the CPU) from this generator re-seeded with `seed`. Seeding and drawing happen
  // under one lock, so concurrent requests never interleave on the generator.
  at::Tensor initial_noise(int64_t channels, int64_t latent_height, int64_t latent_width,
                           uint64_t seed, c10::ScalarType dtype);

  // An edit's two draws (image_edit.h), on the CPU, from this generator re-seeded with `seed`:
  // first the VAE posterior sample's standard normal [1, channels, h, w] in `vae_dtype`, then
  // the initial noise of initial_noise() in `dtype`.
  std::pair<at::Tensor, at::Tensor> edit_draws(int64_t channels, int64_t latent_height,
                                               int64_t latent_width, uint64_t seed,
                                               c10::ScalarType vae_dtype, c10::ScalarType dtype);

 private:
  std::mutex mutex_;
  at::Generator generator_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_NOISE_GENERATOR_H_
