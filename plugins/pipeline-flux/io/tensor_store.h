// tensor_store.h — the named set of weights one model component loads from, wherever the
// bytes live: one safetensors file, a sharded checkpoint, or views synthesized by a key
// mapping (e.g. a black-forest-labs single file presented under diffusers names).
#ifndef FLX_FLUX_IO_TENSOR_STORE_H_
#define FLX_FLUX_IO_TENSOR_STORE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/tensor.h"

namespace flx::flux {

// A TensorStore is a value: copies share the underlying mappings and buffers (each view owns
// its bytes through TensorView::owner), so a store can outlive the files it was opened from.
class TensorStore {
 public:
  // An empty store; `description` is used in error messages ("what was being loaded").
  explicit TensorStore(std::string description = "tensor store");

  // The weights of one diffusers component in `dir`: `dir/<base>.safetensors`, or, when that
  // file is absent, the sharded form `dir/<base>.safetensors.index.json` whose "weight_map"
  // maps each tensor name to a shard file in `dir`. `base` is e.g. "diffusion_pytorch_model"
  // or "model". Every tensor in the weight map must exist in the shard it names; shard names
  // must be plain file names. Throws LoadError naming the folder, index or shard file.
  static TensorStore open_component(const std::string& dir, const std::string& base);
  // All tensors of one weights file: GGUF when the name ends in ".gguf" (views keep ggml's
  // block types), else safetensors (with "scaled fp8" scales folded, io/fp8_scales.h).
  // Throws LoadError naming the file.
  static TensorStore from_file(const std::string& path);

  // Adds `view` under view.name, replacing an earlier tensor of that name; `source` (the
  // file it came from, or how it was made) is what error messages about it will name.
  void add(TensorView view);
  void add(TensorView view, std::string source);

  bool contains(const std::string& name) const;
  // Throws LoadError "<description>: tensor <name> not found".
  const TensorView& get(const std::string& name) const;
  // get() plus a shape check; a mismatch throws LoadError
  // "<source>: tensor <name> has shape [a,b], expected [c,d]".
  const TensorView& get(const std::string& name, const std::vector<int64_t>& expected_shape) const;
  // Tensor names in lexicographic order.
  std::vector<std::string> names() const;
  // The file (or origin) tensor `name` came from; throws LoadError like get() when absent.
  const std::string& source_of(const std::string& name) const;
  size_t size() const { return entries_.size(); }
  // Sum of nbytes over all tensors.
  uint64_t total_bytes() const;
  // Gives back the resident pages of every file mapping the store's tensors point into
  // (FileMapping::release_pages()): for a component not needed until its next use. Tensors
  // stay valid; reading them faults pages back in. Returns the bytes of the mappings.
  size_t release_file_pages() const;
  // The path(s) this store was read from, or what it was built from.
  const std::string& description() const { return description_; }

 private:
  struct Entry {
    TensorView view;
    std::string source;
  };
  std::string description_;
  std::map<std::string, Entry> entries_;
};

// True when `path` names a GGUF file (by its ".gguf" extension, as every GGUF tool does).
bool is_gguf_path(const std::string& path);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_TENSOR_STORE_H_
