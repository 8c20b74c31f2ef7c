// attention.h — the one scaled-dot-product attention every network of the pipeline calls,
// kept in one place so a faster kernel can replace it without touching the networks, and the
// attention slicing that bounds the memory of its score matrix.
#ifndef FLX_FLUX_MODEL_ATTENTION_H_
#define FLX_FLUX_MODEL_ATTENTION_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace flx::flux {

// The score-matrix budget of attention_slicing "auto": 256 MiB for one slice's
// softmax(q k^T) in the compute dtype. Peak attention memory is about twice the slice's score
// matrix (the scaled scores and their softmax coexist) plus the output.
constexpr int64_t kAttentionAutoBudgetBytes = int64_t{256} << 20;
// The query block of attention_slicing "max".
constexpr int64_t kAttentionMaxQueryBlock = 1024;

// How attention bounds the memory of its score matrix [B, H, Sq, Sk] (the `attention_slicing`
// setting). Slicing computes the same result slice by slice over batch items, heads and
// queries (every query still attends to every key), so the output equals the unsliced one up
// to float rounding (the tests bound the difference by 1e-5).
struct AttentionOptions {
  enum class Slicing {
    kOff,     // "off": one matmul over everything; bit-identical to the reference.
    kAuto,    // "auto": query chunks only when the score matrix exceeds
              // kAttentionAutoBudgetBytes, as few as keep each chunk within it; one batch
              // item and head at a time when even one query row of all heads exceeds it.
    kMax,     // "max": one batch item, one head and kAttentionMaxQueryBlock queries at a time.
    kChunks,  // "<N>": the queries split into N chunks (all batch items and heads at once).
  };
  Slicing slicing = Slicing::kOff;
  int64_t chunks = 1;  // kChunks only, at least 1

  bool operator==(const AttentionOptions& other) const {
    return slicing == other.slicing && (slicing != Slicing::kChunks || chunks == other.chunks);
  }
};

// Parses an attention_slicing setting: "off", "auto", "max" (any case) or a chunk count
// 1..1000000. Throws std::invalid_argument naming attention_slicing and the value otherwise.
AttentionOptions parse_attention_slicing(const std::string& value);
// The setting that parses back to `options` ("off", "auto", "max" or the count).
std::string attention_slicing_name(const AttentionOptions& options);

// The size of one slice: batch items, heads and queries computed together.
struct AttentionSlice {
  int64_t batch = 0;
  int64_t heads = 0;
  int64_t queries = 0;
};

// The slice attention() uses for q [batch, heads, queries, d] and k [.., keys, d] with
// elements of `element_size` bytes. kOff (and any setting whose slice covers everything)
// gives the whole problem.
AttentionSlice attention_slice(const AttentionOptions& options, int64_t batch, int64_t heads,
                               int64_t queries, int64_t keys, int64_t element_size);

// softmax(q k^T / sqrt(d)) v for q [B, H, Sq, d], k and v [B, H, Sk, d]; returns [B, H, Sq, d]
// in q's dtype. No mask: every query attends to every key (the flow transformer and the VAE
// attend over the whole sequence; CLIP and T5 have their own attention with a causal mask
// and a position bias respectively). `options` bounds the score matrix as described above.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionOptions& options = {});

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_ATTENTION_H_
