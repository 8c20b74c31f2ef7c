#include "model/prompt_cache.h"

namespace flx::flux {

PromptCache::PromptCache(size_t capacity) : capacity_(capacity) {}

PromptEmbeddings PromptCache::get_or_compute(const PromptKey& key,
                                             const std::function<PromptEmbeddings()>& compute) {
  if (capacity_ == 0) return compute();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = index_.find(key);
    if (found != index_.end()) {
      ++hits_;
      entries_.splice(entries_.begin(), entries_, found->second);
      return found->second->second;
    }
    ++misses_;
  }
  PromptEmbeddings computed = compute();
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = index_.find(key);
  if (found != index_.end()) return found->second->second;
  entries_.emplace_front(key, computed);
  index_.emplace(key, entries_.begin());
  if (entries_.size() > capacity_) {
    index_.erase(entries_.back().first);
    entries_.pop_back();
  }
  return computed;
}

uint64_t PromptCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}

uint64_t PromptCache::misses() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return misses_;
}

size_t PromptCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

}  // namespace flx::flux
