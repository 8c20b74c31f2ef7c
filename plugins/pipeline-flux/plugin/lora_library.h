// lora_library.h — a `flux` stage's LoRA adapters: the files in its lora_dir, the set each
// request asks for (or the stage's default set), and the merged layers of the sets used
// lately, so a set costs one merge however many requests use it.
//
// A set is cached under its names and scales in order, each file's size and modification
// time (a replaced file is read again) and the loaded copy of the model it was merged into
// (a recovery variant in another dtype gets its own). Least recently used sets go first
// beyond lora_cache. Requests keep the merged layers they run with alive, so eviction never
// pulls weights from under a running request. Thread-safe; merges run one at a time.
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
  // Throws as overlay() does unless every adapter of `set` has its file.
  void check(const std::vector<LoraSpec>& set) const;
  // The merged layers of `set` over `pipeline`; nullptr for an empty set. Throws flx::Error
  // INVALID_ARGUMENT with detail param=lora for an unknown name or a file that is not a FLUX
  // LoRA (the message names the file and key), and FLX_UNIMPLEMENTED when the stage has no
  // lora_dir.
  std::shared_ptr<const WeightOverlay> overlay(const std::vector<LoraSpec>& set,
                                               const FluxPipeline& pipeline);

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
  // The file of adapter `name`, checked to exist; throws as overlay() does.
  std::string file_of(const std::string& name) const;
  std::string cache_key(const std::vector<LoraSpec>& set, const FluxPipeline& pipeline) const;
  std::shared_ptr<const WeightOverlay> merge(const std::vector<LoraSpec>& set,
                                             const FluxPipeline& pipeline) const;

  LoraOptions options_;
  mutable std::mutex mutex_;  // guards entries_ and stats_
  std::list<Entry> entries_;  // most recently used first
  Stats stats_;
  std::mutex merge_mutex_;  // one merge at a time: each takes memory and every core
};

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_LORA_LIBRARY_H_
