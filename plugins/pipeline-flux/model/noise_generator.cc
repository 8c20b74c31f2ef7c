#include "model/noise_generator.h"

#include <ATen/CPUGeneratorImpl.h>

#include <map>
#include <memory>
#include <string>

#include "model/latents.h"

namespace flx::flux {

NoiseGenerator& NoiseGenerator::for_device(c10::Device device) {
  static std::mutex registry_mutex;
  static auto* generators = new std::map<std::string, std::unique_ptr<NoiseGenerator>>();
  std::lock_guard<std::mutex> lock(registry_mutex);
  std::unique_ptr<NoiseGenerator>& generator = (*generators)[device.str()];
  if (!generator) generator = std::make_unique<NoiseGenerator>();
  return *generator;
}

NoiseGenerator::NoiseGenerator() : generator_(at::make_generator<at::CPUGeneratorImpl>()) {}

at::Tensor NoiseGenerator::initial_noise(int64_t channels, int64_t latent_height,
                                         int64_t latent_width, uint64_t seed,
                                         c10::ScalarType dtype) {
  std::lock_guard<std::mutex> lock(mutex_);
  generator_.set_current_seed(seed);
  return flux::initial_noise(channels, latent_height, latent_width, generator_, dtype);
}

std::pair<at::Tensor, at::Tensor> NoiseGenerator::edit_draws(int64_t channels,
                                                             int64_t latent_height,
                                                             int64_t latent_width, uint64_t seed,
                                                             c10::ScalarType vae_dtype,
                                                             c10::ScalarType dtype) {
  std::lock_guard<std::mutex> lock(mutex_);
  generator_.set_current_seed(seed);
  at::Tensor posterior = flux::initial_noise(channels, latent_height, latent_width, generator_,
                                             vae_dtype);
  at::Tensor noise = flux::initial_noise(channels, latent_height, latent_width, generator_, dtype);
  return {std::move(posterior), std::move(noise)};
}

}  // namespace flx::flux
