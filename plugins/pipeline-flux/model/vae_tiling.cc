#include "model/vae_tiling.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "model/cancellation.h"

namespace flx::flux {
namespace {

// Blends the first `extent` rows (dim 2) or columns (dim 3) of `tile` in place with the last
// ones of `before`, the weight of `tile` rising linearly from 0, and returns `tile`.
at::Tensor blend_into(const at::Tensor& before, at::Tensor tile, int64_t extent, int64_t dim) {
  extent = std::min({before.size(dim), tile.size(dim), extent});
  if (extent <= 0) return tile;
  std::vector<int64_t> shape(tile.dim(), 1);
  shape[dim] = extent;
  const at::Tensor weight =
      (at::arange(extent, at::TensorOptions().dtype(at::kFloat)) / static_cast<double>(extent))
          .view(shape)
          .to(tile.device(), tile.scalar_type());
  const at::Tensor head = tile.narrow(dim, 0, extent);
  head.copy_(before.narrow(dim, before.size(dim) - extent, extent) * (1 - weight) + head * weight);
  return tile;
}

}  // namespace

void check_vae_tiling(const VaeTiling& tiling, int64_t scale_factor) {
  if (tiling.tile_size <= 0 || tiling.tile_size % scale_factor != 0) {
    throw std::invalid_argument("vae_tile_size " + std::to_string(tiling.tile_size) +
                                " must be a positive multiple of " + std::to_string(scale_factor) +
                                " (the VAE scale factor)");
  }
  if (tiling.overlap < 0 || tiling.overlap % scale_factor != 0 ||
      2 * tiling.overlap > tiling.tile_size) {
    throw std::invalid_argument("vae_tile_overlap " + std::to_string(tiling.overlap) +
                                " must be a multiple of " + std::to_string(scale_factor) +
                                " (the VAE scale factor) from 0 to half of vae_tile_size " +
                                std::to_string(tiling.tile_size));
  }
}

std::vector<int64_t> tile_starts(int64_t length, int64_t stride) {
  std::vector<int64_t> starts;
  for (int64_t start = 0; start < length; start += stride) starts.push_back(start);
  return starts;
}

bool needs_tiling(const at::Tensor& latents, const VaeTiling& tiling, int64_t scale_factor) {
  const int64_t latent_tile = tiling.tile_size / scale_factor;
  return latents.size(2) > latent_tile || latents.size(3) > latent_tile;
}

at::Tensor tiled_decode(const at::Tensor& latents, const VaeTiling& tiling, int64_t scale_factor,
                        const std::function<at::Tensor(const at::Tensor&)>& decode) {
  check_vae_tiling(tiling, scale_factor);
  const int64_t latent_tile = tiling.tile_size / scale_factor;
  const int64_t latent_stride = (tiling.tile_size - tiling.overlap) / scale_factor;
  const int64_t kept = tiling.tile_size - tiling.overlap;
  const std::vector<int64_t> row_starts = tile_starts(latents.size(2), latent_stride);
  const std::vector<int64_t> column_starts = tile_starts(latents.size(3), latent_stride);

  std::vector<at::Tensor> rows;
  std::vector<at::Tensor> tiles_above;
  for (const int64_t top : row_starts) {
    std::vector<at::Tensor> tiles;
    std::vector<at::Tensor> kept_parts;
    for (const int64_t left : column_starts) {
      cancellation_point("between VAE tiles");
      at::Tensor tile =
          decode(latents.slice(2, top, top + latent_tile).slice(3, left, left + latent_tile));
      const size_t column = tiles.size();
      if (!tiles_above.empty()) tile = blend_into(tiles_above[column], tile, tiling.overlap, 2);
      if (column > 0) tile = blend_into(tiles[column - 1], tile, tiling.overlap, 3);
      kept_parts.push_back(tile.slice(2, 0, kept).slice(3, 0, kept));
      tiles.push_back(tile);
    }
    rows.push_back(at::cat(kept_parts, 3));
    tiles_above = std::move(tiles);
  }
  return at::cat(rows, 2);
}

}  // namespace flx::flux
