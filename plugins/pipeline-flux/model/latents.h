// latents.h — FluxPipeline's latent bookkeeping: the initial noise, 2x2 packing of latent
// maps into token sequences and back, and the position ids of text and image tokens.
#ifndef FLX_FLUX_MODEL_LATENTS_H_
#define FLX_FLUX_MODEL_LATENTS_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>

namespace flx::flux {

// The latent map size (in latent pixels) FluxPipeline uses for an image of `pixels` along one
// side: 2 * (pixels / (2 * vae_scale_factor)), i.e. always even so it packs into 2x2 patches.
int64_t latent_size(int64_t pixels, int64_t vae_scale_factor);

// torch.randn([1, channels, latent_height, latent_width]) from a fresh CPU generator seeded
// with `seed`, drawn directly in `dtype` as diffusers' randn_tensor does, on the CPU.
at::Tensor initial_noise(int64_t channels, int64_t latent_height, int64_t latent_width,
                         uint64_t seed, c10::ScalarType dtype);
// The same draw from `generator` (a CPU generator) in its current state, advancing it.
at::Tensor initial_noise(int64_t channels, int64_t latent_height, int64_t latent_width,
                         at::Generator& generator, c10::ScalarType dtype);

// [B, C, h, w] -> [B, (h/2)(w/2), 4C]: each 2x2 patch becomes one token whose channels are
// ordered (c, dy, dx). h and w must be even.
at::Tensor pack_latents(const at::Tensor& latents);
// The inverse of pack_latents for a latent map of latent_height x latent_width.
at::Tensor unpack_latents(const at::Tensor& packed, int64_t latent_height, int64_t latent_width);

// Position ids [packed_height * packed_width, 3] of the image tokens: row r * packed_width + c
// holds (0, r, c).
at::Tensor latent_image_ids(int64_t packed_height, int64_t packed_width, c10::ScalarType dtype);
// Position ids [length, 3] of the text tokens: all zero.
at::Tensor text_ids(int64_t length, c10::ScalarType dtype);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_LATENTS_H_
