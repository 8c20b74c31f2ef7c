// vae_tiling.h — decoding a large latent map as overlapping tiles whose seams are blended
// linearly, the scheme of diffusers' AutoencoderKL.tiled_decode, so the decoder's activations
// (and its mid-block attention over every latent pixel) only ever cover one tile.
//
// The result is close to, not equal to, a whole decode: each tile's group norms see only that
// tile's statistics, its mid-block attention only that tile's pixels, and its convolutions zero
// padding at the tile border. diffusers has the same property; the error shrinks as tiles and
// overlaps grow. Measured on the tiny-flux test VAE (random weights, so a pessimistic case)
// decoding N(0, 1) latents of 48x48 (a 192x192 image whose values span about +-2.9, standard
// deviation 0.5), tests/parity/flux_model/vae_tiling_parity_test.cc:
//   64-pixel tiles, 16 overlap (diffusers' geometry for that VAE): mean |error| 0.116, max 1.17
//   128-pixel tiles, 32 overlap:                                   mean |error| 0.038, max 0.34
// The test holds the first to mean <= 0.15 and max <= 1.5, and the second to under half the
// first's mean error.
#ifndef FLX_FLUX_MODEL_VAE_TILING_H_
#define FLX_FLUX_MODEL_VAE_TILING_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace flx::flux {

// Tile geometry in image pixels (the `vae_tile_size` and `vae_tile_overlap` settings).
// Neighbouring tiles share `overlap` pixels, blended linearly; a tile starts every
// tile_size - overlap pixels. diffusers' defaults for the FLUX.1 VAE are 1024 and 256; ours
// are smaller so that tiling, when a recovery policy turns it on, also helps at 1024x1024.
struct VaeTiling {
  int64_t tile_size = 512;
  int64_t overlap = 128;

  bool operator==(const VaeTiling& other) const {
    return tile_size == other.tile_size && overlap == other.overlap;
  }
};

// Throws std::invalid_argument naming vae_tile_size or vae_tile_overlap unless tile_size is a
// positive multiple of `scale_factor` (the VAE's pixels per latent) and overlap a multiple of
// it in [0, tile_size / 2] (so a pixel is blended from at most two tiles per axis).
void check_vae_tiling(const VaeTiling& tiling, int64_t scale_factor);

// Where tiles start along an axis of `length` latent pixels: 0, stride, 2 stride, ... below
// length (the last tiles may be cut short by the edge, as in diffusers).
std::vector<int64_t> tile_starts(int64_t length, int64_t stride);

// True when `latents` [B, C, h, w] is larger than one tile in either direction; smaller maps
// are decoded whole (diffusers does the same).
bool needs_tiling(const at::Tensor& latents, const VaeTiling& tiling, int64_t scale_factor);

// Decodes `latents` [B, C, h, w] tile by tile with `decode` (a latent tile [B, C, th, tw] ->
// its image [B, C', th * scale_factor, tw * scale_factor]) and returns the image
// [B, C', h * scale_factor, w * scale_factor]. `decode` must return a fresh tensor: the
// seams are blended into it in place. Each tile is blended into the tile above and
// the tile to its left over `overlap` pixels with weights rising linearly from 0, then cropped
// to tile_size - overlap pixels. At most two rows of decoded tiles are held at a time.
// `tiling` must pass check_vae_tiling().
at::Tensor tiled_decode(const at::Tensor& latents, const VaeTiling& tiling, int64_t scale_factor,
                        const std::function<at::Tensor(const at::Tensor&)>& decode);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_VAE_TILING_H_
