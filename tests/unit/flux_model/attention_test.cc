#include "model/attention.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace flx::flux {
namespace {

// softmax(q k^T / sqrt(d)) v computed one query at a time in double precision.
double reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t b,
                 int64_t h, int64_t i, int64_t c) {
  const int64_t keys = k.size(2);
  const int64_t d = q.size(3);
  std::vector<double> logits(keys);
  double max_logit = -INFINITY;
  for (int64_t j = 0; j < keys; ++j) {
    double dot = 0;
    for (int64_t x = 0; x < d; ++x)
      dot += q[b][h][i][x].item<double>() * k[b][h][j][x].item<double>();
    logits[j] = dot / std::sqrt(static_cast<double>(d));
    max_logit = std::max(max_logit, logits[j]);
  }
  double total = 0, weighted = 0;
  for (int64_t j = 0; j < keys; ++j) {
    const double w = std::exp(logits[j] - max_logit);
    total += w;
    weighted += w * v[b][h][j][c].item<double>();
  }
  return weighted / total;
}

TEST(Attention, MatchesTheDefinitionOnRandomInputs) {
  at::manual_seed(7);
  const at::Tensor q = at::randn({2, 3, 5, 8});
  const at::Tensor k = at::randn({2, 3, 6, 8});
  const at::Tensor v = at::randn({2, 3, 6, 8});
  const at::Tensor out = attention(q, k, v);
  ASSERT_EQ(out.sizes(), at::IntArrayRef({2, 3, 5, 8}));
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t h = 0; h < 3; ++h) {
      for (int64_t i = 0; i < 5; ++i) {
        for (int64_t c = 0; c < 8; c += 3) {
          EXPECT_NEAR(out[b][h][i][c].item<double>(), reference(q, k, v, b, h, i, c), 1e-5)
              << "b" << b << " h" << h << " i" << i << " c" << c;
        }
      }
    }
  }
}

TEST(Attention, AcceptsNonContiguousViews) {
  at::manual_seed(3);
  const at::Tensor q = at::randn({1, 4, 2, 16}).transpose(1, 2);
  const at::Tensor k = at::randn({1, 4, 2, 16}).transpose(1, 2);
  const at::Tensor v = at::randn({1, 4, 2, 16}).transpose(1, 2);
  EXPECT_TRUE(
      at::allclose(attention(q, k, v), attention(q.contiguous(), k.contiguous(), v.contiguous())));
}

}  // namespace
}  // namespace flx::flux
