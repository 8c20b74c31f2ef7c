#include "model/attention.h"

#include <ATen/ATen.h>

#include <cmath>

namespace flx::flux {

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  const at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * scale;
  return at::matmul(at::softmax(scores, -1), v);
}

}  // namespace flx::flux
