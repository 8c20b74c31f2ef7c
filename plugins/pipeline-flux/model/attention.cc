#include "model/attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>
#include <vector>

#if __has_include(<ATen/ops/scaled_dot_product_attention.h>)
#include <ATen/ops/scaled_dot_product_attention.h>
#define FLX_HAVE_SDPA 1
#endif

#include "model/cancellation.h"

namespace flx::flux {
namespace {

constexpr int64_t kMaxChunks = 1000000;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

at::Tensor whole_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
#ifdef FLX_HAVE_SDPA
  // libtorch >= 2.0 (a CUDA build for a GPU): the fused kernels (flash / memory-efficient on
  // CUDA) never materialise the score matrix. Not available in Debian's libtorch 1.13, so
  // this branch is compiled and run only against such a build (scripts/gpu-bench.sh).
  if (!q.device().is_cpu()) return at::scaled_dot_product_attention(q, k, v);
#endif
  // softmax(q k^T / sqrt(d)) v over [batch x heads] matrices. The scale rides in the product's
  // alpha and softmax runs in place, so the score matrix, the largest tensor here, is written
  // once and never copied (scaling it afterwards and a separate softmax output cost ~7% of a
  // transformer step on the wide demo model).
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  const at::IntArrayRef lead = q.sizes().slice(0, q.dim() - 2);
  const at::Tensor q3 = q.reshape({-1, q.size(-2), q.size(-1)});
  const at::Tensor k3 = k.reshape({-1, k.size(-2), k.size(-1)});
  const at::Tensor v3 = v.reshape({-1, v.size(-2), v.size(-1)});
  at::Tensor scores = at::empty({q3.size(0), q3.size(1), k3.size(1)}, q.options());
  scores.baddbmm_(q3, k3.transpose(1, 2), /*beta=*/0, /*alpha=*/scale);
  at::_softmax_out(scores, scores, -1, /*half_to_float=*/false);
  std::vector<int64_t> out_shape(lead.begin(), lead.end());
  out_shape.push_back(q.size(-2));
  out_shape.push_back(v.size(-1));
  return at::bmm(scores, v3).view(out_shape);
}

}  // namespace

AttentionOptions parse_attention_slicing(const std::string& value) {
  std::string lower;
  for (char c : value) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  AttentionOptions options;
  if (lower == "off") return options;
  if (lower == "auto") {
    options.slicing = AttentionOptions::Slicing::kAuto;
    return options;
  }
  if (lower == "max") {
    options.slicing = AttentionOptions::Slicing::kMax;
    return options;
  }
  const bool digits =
      !lower.empty() && lower.size() <= 7 && std::all_of(lower.begin(), lower.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      });
  if (!digits || std::stoll(lower) < 1 || std::stoll(lower) > kMaxChunks) {
    throw std::invalid_argument("attention_slicing \"" + value +
                                "\" must be off, auto, max or a chunk count 1.." +
                                std::to_string(kMaxChunks));
  }
  options.slicing = AttentionOptions::Slicing::kChunks;
  options.chunks = std::stoll(lower);
  return options;
}

std::string attention_slicing_name(const AttentionOptions& options) {
  switch (options.slicing) {
    case AttentionOptions::Slicing::kOff:
      return "off";
    case AttentionOptions::Slicing::kAuto:
      return "auto";
    case AttentionOptions::Slicing::kMax:
      return "max";
    case AttentionOptions::Slicing::kChunks:
      break;
  }
  return std::to_string(options.chunks);
}

AttentionSlice attention_slice(const AttentionOptions& options, int64_t batch, int64_t heads,
                               int64_t queries, int64_t keys, int64_t element_size) {
  AttentionSlice slice{batch, heads, queries};
  switch (options.slicing) {
    case AttentionOptions::Slicing::kOff:
      break;
    case AttentionOptions::Slicing::kChunks:
      slice.queries = ceil_div(queries, std::max<int64_t>(1, options.chunks));
      break;
    case AttentionOptions::Slicing::kMax:
      slice = {1, 1, std::min(queries, kAttentionMaxQueryBlock)};
      break;
    case AttentionOptions::Slicing::kAuto: {
      const int64_t row_bytes = batch * heads * keys * element_size;
      if (row_bytes * queries <= kAttentionAutoBudgetBytes) break;
      if (row_bytes > kAttentionAutoBudgetBytes) {
        slice.batch = 1;
        slice.heads = 1;
      }
      const int64_t slice_row_bytes = slice.batch * slice.heads * keys * element_size;
      const int64_t rows = std::max<int64_t>(1, kAttentionAutoBudgetBytes / slice_row_bytes);
      // As few chunks as fit the budget, then spread the queries evenly over them.
      slice.queries = ceil_div(queries, ceil_div(queries, rows));
      break;
    }
  }
  slice.queries = std::max<int64_t>(1, std::min(slice.queries, queries));
  return slice;
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionOptions& options) {
  if (options.slicing == AttentionOptions::Slicing::kOff) return whole_attention(q, k, v);
  const int64_t batch = q.size(0);
  const int64_t heads = q.size(1);
  const int64_t queries = q.size(2);
  const AttentionSlice slice =
      attention_slice(options, batch, heads, queries, k.size(2), q.element_size());
  if (slice.batch >= batch && slice.heads >= heads && slice.queries >= queries) {
    return whole_attention(q, k, v);
  }
  at::Tensor out;
  for (int64_t b = 0; b < batch; b += slice.batch) {
    const int64_t b_end = std::min(batch, b + slice.batch);
    for (int64_t h = 0; h < heads; h += slice.heads) {
      const int64_t h_end = std::min(heads, h + slice.heads);
      const at::Tensor k_part = k.slice(0, b, b_end).slice(1, h, h_end);
      const at::Tensor v_part = v.slice(0, b, b_end).slice(1, h, h_end);
      for (int64_t i = 0; i < queries; i += slice.queries) {
        cancellation_point("in attention");
        const int64_t i_end = std::min(queries, i + slice.queries);
        const at::Tensor part = whole_attention(
            q.slice(0, b, b_end).slice(1, h, h_end).slice(2, i, i_end), k_part, v_part);
        if (!out.defined()) out = at::empty({batch, heads, queries, v.size(-1)}, part.options());
        out.slice(0, b, b_end).slice(1, h, h_end).slice(2, i, i_end).copy_(part);
      }
    }
  }
  return out;
}

}  // namespace flx::flux
