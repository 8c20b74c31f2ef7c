// lora_library.h — a `flux` stage's LoRA adapters: the files in its lora_dir, the set each
// request asks for (or the stage's default set), and the merged layers of the sets used
// lately, so a set costs one merge however many requests use it.
//
// A set is cached under its names and scales in order, each file's size and modification
// time (a replaced file is read again) and the loaded copy of the model it was merged into
// (a recovery variant in another dtype gets its own). Least recently used sets go first
// beyond lora_cache, and beyond the memory a request leaves them: the stage counts a set's
// merged layers in its memory_budget (prepare() says how many bytes a set holds before it is
// merged; overlay() drops other sets until the cache fits the room it is given). Requests
// keep the merged layers they run with alive, so eviction never pulls weights from under a
// running request. Thread-safe; merges run one at a time.
#ifndef FLX_FLUX_PLUGIN_LORA_LIBRARY_H_
#define FLX_FLUX_PLUGIN_LORA_LIBRARY_H_

#include <flx/flx.h>

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "lora_options.h"
#include "model/flux_pipeline.h"
#include "model/lora_merge.h"
#include "model/weight_overlay.h"

namespace flx::flux {

class LoraLibrary {
 public:
  struct Stats {
    uint64_t hits = 0;    // requests served by a cached merge
    uint64_t merges = 0;  // sets merged
    size_t cached_sets = 0;
    int64_t cached_bytes = 0;
  };

  explicit LoraLibrary(LoraOptions options);

  // The adapters in lora_dir now (file names without .safetensors), sorted; empty without a
  // lora_dir. Throws flx::Error (FAILED_PRECONDITION) when the folder cannot be read.
  std::vector<std::string> available() const;
  // What `request` asks for: its own list when it gives one (ABI 1.4), else the default set.
  std::vector<LoraSpec> requested(const flx_request& request) const;
  // Throws as prepare() does unless every adapter of `set` has its file.
  void check(const std::vector<LoraSpec>& set) const;

  // A set about to be applied to one loaded copy of the model.
  struct Prepared {
    std::vector<LoraSpec> set;
    std::string key;  // its cache key
    const FluxPipeline* pipeline = nullptr;
    std::vector<AppliedLora> adapters;  // read from their files unless cached
    int64_t bytes = 0;                  // what its merged layers hold
  };
  // Reads the adapters of `set` unless their merge is cached and works out its size. Throws
  // flx::Error INVALID_ARGUMENT with detail param=lora for an unknown name or a file that is
  // not a FLUX LoRA or does not fit the model (the message names the file and key), and
  // FLX_UNIMPLEMENTED when the stage has no lora_dir. An empty set prepares to nothing.
  Prepared prepare(const std::vector<LoraSpec>& set, const FluxPipeline& pipeline) const;
  // The merged layers of `prepared` (merging them unless cached), nullptr for an empty set.
  // First drops the least recently used other sets until the cache, this set included, holds
  // at most `room_bytes` (the caller checked that this set alone fits). Takes `prepared` so
  // that the adapters read from their files are freed with the merge, not held while the
  // request runs. Throws as prepare().
  std::shared_ptr<const WeightOverlay> overlay(Prepared prepared, int64_t room_bytes);

  // Forgets every merged set (the loaded copies they were merged into are gone).
  void clear();
  Stats stats() const;
  // "name:scale,..." as the result's `lora` parameter shows it.
  static std::string describe(const std::vector<LoraSpec>& set);

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const WeightOverlay> overlay;
  };
  // The file of adapter `name`, checked to exist; throws as prepare() does.
  std::string file_of(const std::string& name) const;
  std::string cache_key(const std::vector<LoraSpec>& set, const FluxPipeline& pipeline) const;
  // The cached merge under `key` (most recently used now, counted as a hit, the other sets
  // dropped down to `room_bytes`), or nullptr.
  std::shared_ptr<const WeightOverlay> find_within_room(const std::string& key, int64_t room_bytes);
  // Drops least recently used sets but `keep` until the others and `incoming` bytes fit
  // `room_bytes`. Needs mutex_.
  void make_room_locked(int64_t room_bytes, int64_t incoming, const std::string& keep);
  // The adapters of `set` read from their files; throws as prepare() does.
  std::vector<AppliedLora> read_adapters(const std::vector<LoraSpec>& set) const;
  std::shared_ptr<const WeightOverlay> merge(const Prepared& prepared) const;

  LoraOptions options_;
  mutable std::mutex mutex_;  // guards entries_ and stats_
  std::list<Entry> entries_;  // most recently used first
  Stats stats_;
  std::mutex merge_mutex_;  // one merge at a time: each takes memory and every core
};

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_LORA_LIBRARY_H_
