// flux_rope.h — FLUX's multi-axis rotary position embedding (diffusers' FluxPosEmbed and
// apply_rotary_emb with use_real=True, repeat_interleave_real=True).
#ifndef FLX_FLUX_MODEL_FLUX_ROPE_H_
#define FLX_FLUX_MODEL_FLUX_ROPE_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace flx::flux {

// The rotation of every position, as float32 cos and sin tables [S, sum(axes_dims)].
struct RopeTables {
  at::Tensor cos;
  at::Tensor sin;
};

// Tables for position ids `ids` [S, n_axes] (axis i of a token's id selects the rotation of
// the axes_dims[i] channels of its slot). Per axis, with d = axes_dims[i] (even), channel
// pair j rotates by angle pos * theta^(-2j/d); frequencies and angles are computed in float64
// and each angle's cos/sin is repeated for both channels of its pair, then cast to float32.
// Throws std::invalid_argument when ids has another number of axes or a dimension is odd.
RopeTables flux_rope(const at::Tensor& ids, const std::vector<int64_t>& axes_dims, double theta);

// Rotates x [B, H, S, D] (D = sum(axes_dims)) by the tables: channel pairs (x0, x1) become
// (x0 cos - x1 sin, x1 cos + x0 sin), computed in float32 and returned in x's dtype.
at::Tensor apply_rope(const at::Tensor& x, const RopeTables& rope);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_FLUX_ROPE_H_
