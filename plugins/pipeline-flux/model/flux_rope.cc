#include "model/flux_rope.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

namespace flx::flux {

RopeTables flux_rope(const at::Tensor& ids, const std::vector<int64_t>& axes_dims, double theta) {
  if (ids.dim() != 2 || ids.size(1) != static_cast<int64_t>(axes_dims.size())) {
    throw std::invalid_argument("flux_rope: position ids must be [tokens, " +
                                std::to_string(axes_dims.size()) + "]");
  }
  const at::Tensor positions = ids.to(at::kFloat);
  const at::TensorOptions doubles = at::TensorOptions().dtype(at::kDouble).device(ids.device());
  std::vector<at::Tensor> cos_parts;
  std::vector<at::Tensor> sin_parts;
  for (size_t axis = 0; axis < axes_dims.size(); ++axis) {
    const int64_t dim = axes_dims[axis];
    if (dim <= 0 || dim % 2 != 0) {
      throw std::invalid_argument("flux_rope: axes_dims[" + std::to_string(axis) +
                                  "] = " + std::to_string(dim) + " must be positive and even");
    }
    const at::Tensor exponents = at::arange(0, dim, 2, doubles).slice(0, 0, dim / 2) / dim;
    const at::Tensor frequencies =
        at::reciprocal(at::pow(at::scalar_tensor(theta, doubles), exponents));
    const at::Tensor angles =
        at::outer(positions.select(1, static_cast<int64_t>(axis)), frequencies);
    cos_parts.push_back(angles.cos().repeat_interleave(2, 1).to(at::kFloat));
    sin_parts.push_back(angles.sin().repeat_interleave(2, 1).to(at::kFloat));
  }
  return RopeTables{at::cat(cos_parts, -1), at::cat(sin_parts, -1)};
}

at::Tensor apply_rope(const at::Tensor& x, const RopeTables& rope) {
  std::vector<int64_t> pair_shape = x.sizes().vec();
  pair_shape.back() /= 2;
  pair_shape.push_back(2);
  const at::Tensor pairs = x.reshape(pair_shape);
  const at::Tensor real = pairs.select(-1, 0);
  const at::Tensor imag = pairs.select(-1, 1);
  const at::Tensor rotated = at::stack({-imag, real}, -1).flatten(3);
  const at::Tensor cos = rope.cos.unsqueeze(0).unsqueeze(0);
  const at::Tensor sin = rope.sin.unsqueeze(0).unsqueeze(0);
  // x * cos + rotated * sin, computed into one float32 buffer (a fresh copy of x, or x's
  // float32 conversion) instead of three.
  at::Tensor out = x.scalar_type() == at::kFloat ? x.clone() : x.to(at::kFloat);
  out.mul_(cos).addcmul_(rotated.to(at::kFloat), sin);
  return out.to(x.scalar_type());
}

}  // namespace flx::flux
