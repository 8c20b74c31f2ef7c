#include "lora_library.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "io/safetensors.h"
#include "io/tensor.h"
#include "model/lora_weights.h"

namespace fs = std::filesystem;

namespace flx::flux {
namespace {

constexpr const char* kExtension = ".safetensors";

flx::Error bad_lora(const std::string& message) {
  return flx::Error(FLX_INVALID_ARGUMENT, message).detail("param", FLX_PARAM_LORA);
}

std::string format_scale(double scale) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.9g", scale);
  return text;
}

}  // namespace

LoraLibrary::LoraLibrary(LoraOptions options) : options_(std::move(options)) {}

std::vector<std::string> LoraLibrary::available() const {
  std::vector<std::string> names;
  if (options_.dir.empty()) return names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(options_.dir, error)) {
    const fs::path& path = entry.path();
    if (path.extension() == kExtension && entry.is_regular_file(error)) {
      names.push_back(path.stem().string());
    }
  }
  if (error) {
    throw flx::Error(FLX_FAILED_PRECONDITION,
                     "lora_dir " + options_.dir + " cannot be read: " + error.message());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<LoraSpec> LoraLibrary::requested(const flx_request& request) const {
  if (!FLX_HAS_FIELD(flx_request, &request, loras_given) || !request.loras_given) {
    return options_.defaults;
  }
  std::vector<LoraSpec> set;
  for (size_t i = 0; i < request.n_loras; ++i) {
    set.push_back({request.loras[i].name, request.loras[i].scale});
  }
  return set;
}

std::string LoraLibrary::file_of(const std::string& name) const {
  if (options_.dir.empty()) {
    throw flx::Error(FLX_UNIMPLEMENTED,
                     "this model has no LoRA adapters (its stage sets no lora_dir)");
  }
  const fs::path path = fs::path(options_.dir) / (name + kExtension);
  std::error_code error;
  if (name.find('/') != std::string::npos || !fs::is_regular_file(path, error)) {
    std::string known;
    for (const std::string& other : available()) known += (known.empty() ? "" : ", ") + other;
    throw bad_lora("unknown LoRA '" + name + "' (available: " + (known.empty() ? "none" : known) +
                   ")");
  }
  return path.string();
}

void LoraLibrary::check(const std::vector<LoraSpec>& set) const {
  for (const LoraSpec& lora : set) file_of(lora.name);
}

std::string LoraLibrary::cache_key(const std::vector<LoraSpec>& set,
                                   const FluxPipeline& pipeline) const {
  std::string key = std::to_string(reinterpret_cast<uintptr_t>(&pipeline));
  for (const LoraSpec& lora : set) {
    struct stat info {};
    const std::string file = file_of(lora.name);
    if (::stat(file.c_str(), &info) != 0) throw bad_lora("LoRA '" + lora.name + "' vanished");
    key += "|" + lora.name + "@" + format_scale(lora.scale) + "#" + std::to_string(info.st_size) +
           "." + std::to_string(info.st_mtim.tv_sec) + "." + std::to_string(info.st_mtim.tv_nsec);
  }
  return key;
}

LoraLibrary::Prepared LoraLibrary::prepare(const std::vector<LoraSpec>& set,
                                           const FluxPipeline& pipeline) const {
  Prepared prepared;
  prepared.set = set;
  prepared.pipeline = &pipeline;
  if (set.empty()) return prepared;
  prepared.key = cache_key(set, pipeline);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Entry& entry : entries_) {
      if (entry.key == prepared.key) prepared.bytes = entry.overlay->bytes();
    }
  }
  if (prepared.bytes > 0) return prepared;
  prepared.adapters = read_adapters(set);
  try {
    prepared.bytes = merged_bytes(pipeline.transformer(), prepared.adapters, pipeline.dtype());
  } catch (const std::invalid_argument& e) {
    throw bad_lora(e.what());
  }
  return prepared;
}

std::vector<AppliedLora> LoraLibrary::read_adapters(const std::vector<LoraSpec>& set) const {
  std::vector<AppliedLora> adapters;
  for (const LoraSpec& lora : set) {
    try {
      const auto file = SafetensorsFile::open(file_of(lora.name));
      adapters.push_back({lora.name, std::make_shared<LoraWeights>(read_lora(*file)), lora.scale});
    } catch (const LoadError& e) {
      throw bad_lora("LoRA '" + lora.name + "' cannot be used: " + e.what());
    }
  }
  return adapters;
}

std::shared_ptr<const WeightOverlay> LoraLibrary::merge(const Prepared& prepared) const {
  // A set that was cached when prepared but dropped since is read again here.
  const std::vector<AppliedLora> adapters =
      prepared.adapters.empty() ? read_adapters(prepared.set) : prepared.adapters;
  try {
    return merge_loras(prepared.pipeline->transformer(), adapters, prepared.pipeline->dtype(),
                       prepared.pipeline->device());
  } catch (const std::invalid_argument& e) {
    throw bad_lora(e.what());
  }
}

std::shared_ptr<const WeightOverlay> LoraLibrary::find_within_room(const std::string& key,
                                                                   int64_t room_bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->key != key) continue;
    entries_.splice(entries_.begin(), entries_, it);
    ++stats_.hits;
    make_room_locked(room_bytes, 0, key);
    return entries_.front().overlay;
  }
  return nullptr;
}

void LoraLibrary::make_room_locked(int64_t room_bytes, int64_t incoming, const std::string& keep) {
  int64_t held = incoming;
  for (const Entry& entry : entries_) held += entry.overlay->bytes();
  for (auto it = entries_.end(); held > room_bytes && it != entries_.begin();) {
    --it;
    if (it->key == keep) continue;
    held -= it->overlay->bytes();
    it = entries_.erase(it);
  }
}

std::shared_ptr<const WeightOverlay> LoraLibrary::overlay(Prepared prepared, int64_t room_bytes) {
  if (prepared.set.empty()) {
    std::lock_guard<std::mutex> lock(mutex_);
    make_room_locked(room_bytes, 0, "");
    return nullptr;
  }
  if (auto cached = find_within_room(prepared.key, room_bytes)) return cached;
  std::lock_guard<std::mutex> merging(merge_mutex_);
  // Merged by the request we waited for?
  if (auto cached = find_within_room(prepared.key, room_bytes)) return cached;
  {
    // Before the merge: the memory other sets hold goes first (as far as no request runs
    // with them), so the merge itself has its room.
    std::lock_guard<std::mutex> lock(mutex_);
    make_room_locked(room_bytes, prepared.bytes, "");
  }
  std::shared_ptr<const WeightOverlay> merged = merge(prepared);
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.merges;
  entries_.push_front({prepared.key, merged});
  while (entries_.size() > static_cast<size_t>(options_.cache)) entries_.pop_back();
  make_room_locked(room_bytes, 0, prepared.key);
  return merged;
}

void LoraLibrary::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.clear();
}

LoraLibrary::Stats LoraLibrary::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Stats stats = stats_;
  stats.cached_sets = entries_.size();
  for (const Entry& entry : entries_) stats.cached_bytes += entry.overlay->bytes();
  return stats;
}

std::string LoraLibrary::describe(const std::vector<LoraSpec>& set) {
  std::string text;
  for (const LoraSpec& lora : set) {
    text += (text.empty() ? "" : ",") + lora.name + ":" + format_scale(lora.scale);
  }
  return text;
}

}  // namespace flx::flux
