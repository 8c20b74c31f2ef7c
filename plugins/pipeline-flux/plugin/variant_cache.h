// variant_cache.h — the loaded copies of a model a `flux` stage keeps: the one its config
// names and, for recovery overrides of dtype or offload, others built when a try asks for
// them. Least recently used copies go first when the cache is full.
//
// Why a bounded cache and not "load every variant" or "never switch": a recovery ladder rung
// such as {dtype: bfloat16} or {offload: model} is only useful if the try really runs that
// way, but each copy holds the weights again (FLUX.1 is 24 GB in bfloat16). On the CPU a copy
// in the file's own dtype maps the same file pages (zero-copy), so keeping it costs little; on
// an accelerator the copy that is about to be built needs the device memory the others hold,
// so make_room(exclusive = true) drops every other copy first.
//
// Not thread-safe: FluxStage guards it with its state mutex and builds under its load mutex.
// Values are shared_ptr so a try that is using an evicted copy keeps it alive until it ends.
#ifndef FLX_FLUX_PLUGIN_VARIANT_CACHE_H_
#define FLX_FLUX_PLUGIN_VARIANT_CACHE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

namespace flx::flux {

template <typename Key, typename Value>
class VariantCache {
 public:
  struct Entry {
    Key key;
    std::shared_ptr<const Value> value;
    int64_t bytes = 0;  // what the copy holds, for the weights_bytes gauge
  };

  // capacity: how many copies are kept at once, at least 1.
  explicit VariantCache(size_t capacity) : capacity_(capacity) {
    if (capacity_ == 0) throw std::invalid_argument("a variant cache needs room for one copy");
  }

  size_t capacity() const { return capacity_; }

  // The copy for `key`, now the most recently used, or nullptr.
  std::shared_ptr<const Value> find(const Key& key) {
    auto it = locate(key);
    if (it == entries_.end()) return nullptr;
    std::rotate(it, it + 1, entries_.end());
    return entries_.back().value;
  }

  // The copy for `key` without touching the order, or nullptr.
  std::shared_ptr<const Value> peek(const Key& key) const {
    for (const Entry& entry : entries_) {
      if (entry.key == key) return entry.value;
    }
    return nullptr;
  }

  // Drops copies so one more fits: the least recently used ones, or every one when
  // `exclusive`. Returns the keys dropped, oldest first.
  std::vector<Key> make_room(bool exclusive) {
    std::vector<Key> dropped;
    const size_t keep = exclusive ? 0 : capacity_ - 1;
    while (entries_.size() > keep) {
      dropped.push_back(entries_.front().key);
      entries_.erase(entries_.begin());
    }
    return dropped;
  }

  // Adds (or replaces) the copy for `key` as the most recently used. Call make_room() first;
  // inserting into a full cache drops the least recently used copy.
  void insert(const Key& key, std::shared_ptr<const Value> value, int64_t bytes) {
    auto it = locate(key);
    if (it != entries_.end()) entries_.erase(it);
    if (entries_.size() >= capacity_) entries_.erase(entries_.begin());
    entries_.push_back(Entry{key, std::move(value), bytes});
  }

  // Oldest first.
  const std::vector<Entry>& entries() const { return entries_; }

  int64_t total_bytes() const {
    int64_t bytes = 0;
    for (const Entry& entry : entries_) bytes += entry.bytes;
    return bytes;
  }

 private:
  typename std::vector<Entry>::iterator locate(const Key& key) {
    return std::find_if(entries_.begin(), entries_.end(),
                        [&](const Entry& entry) { return entry.key == key; });
  }

  size_t capacity_;
  std::vector<Entry> entries_;  // least recently used first
};

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_VARIANT_CACHE_H_
