// prompt_cache.h — a least-recently-used cache of prompt embeddings (the `text_cache_size`
// setting), so a repeated prompt skips both text encoders.
#ifndef FLX_FLUX_MODEL_PROMPT_CACHE_H_
#define FLX_FLUX_MODEL_PROMPT_CACHE_H_

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <tuple>
#include <utility>
#include <vector>

namespace flx::flux {

// The text conditioning of one prompt.
struct PromptEmbeddings {
  at::Tensor prompt_embeds;  // [1, L, joint_attention_dim], T5 last hidden state
  at::Tensor pooled;         // [1, pooled_projection_dim], CLIP pooled output
  at::Tensor text_ids;       // [L, 3], zeros
};

// What the embeddings of one pipeline depend on: the CLIP token ids of the prompt and the
// T5 token ids of prompt_2 (or the prompt), padded to max_sequence_length, so (prompt,
// prompt_2, max_sequence_length) map to exactly one key.
struct PromptKey {
  std::vector<int64_t> clip_ids;
  std::vector<int64_t> t5_ids;

  bool operator<(const PromptKey& other) const {
    return std::tie(clip_ids, t5_ids) < std::tie(other.clip_ids, other.t5_ids);
  }
};

// Thread-safe. The cached tensors are shared with every caller that gets them: callers must
// treat them as read-only (the pipeline does).
class PromptCache {
 public:
  // Holds at most `capacity` prompts; 0 turns caching off (nothing is stored or counted).
  explicit PromptCache(size_t capacity);

  // The embeddings cached under `key` (a hit, which makes it the most recently used), else
  // those `compute` returns (a miss), stored and evicting the least recently used prompt when
  // full. `compute` runs without the lock held, so two threads missing the same key at once
  // may both compute it; the first result stored is kept. Exceptions from `compute`
  // propagate and store nothing.
  PromptEmbeddings get_or_compute(const PromptKey& key,
                                  const std::function<PromptEmbeddings()>& compute);

  uint64_t hits() const;
  uint64_t misses() const;
  size_t size() const;
  size_t capacity() const { return capacity_; }

 private:
  using Entry = std::pair<PromptKey, PromptEmbeddings>;

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
  std::map<PromptKey, std::list<Entry>::iterator> index_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_PROMPT_CACHE_H_
