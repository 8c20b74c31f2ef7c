// safetensors.h — our own reader and writer of the safetensors format
// (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N, N bytes
// of JSON header, then the data section. The reader maps the file and hands out zero-copy
// views; it validates the whole header before returning, so a bad file fails at open() with
// a message naming the file and tensor, never later with a crash or silently wrong weights.
//
// This header also brings in TensorStore (io/tensor_store.h), the named set of tensors the
// networks load from, so "io/safetensors.h" is the one include weight loaders need.
#ifndef FLX_FLUX_IO_SAFETENSORS_H_
#define FLX_FLUX_IO_SAFETENSORS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/tensor.h"
#include "io/tensor_store.h"

namespace flx::flux {

// One safetensors file, memory-mapped read-only for the lifetime of the object and of every
// view it handed out (views share ownership of the mapping).
//
// open() enforces the format as the reference implementation does:
//  * the file holds at least the 8 length bytes, the header length is at most 100 MB and
//    lies within the file;
//  * the header is UTF-8 JSON, an object whose first byte is '{' (trailing spaces allowed);
//  * "__metadata__", if present, maps strings to strings;
//  * every other key is a tensor: {"dtype": one of DType, "shape": [non-negative ints],
//    "data_offsets": [begin, end]} with offsets relative to the data section,
//    begin <= end <= data size, and end - begin == numel * dtype_size;
//  * tensors neither overlap nor leave gaps, and together cover the data section exactly
//    (the spec forbids unindexed bytes, which is what makes polyglot files impossible).
// Tensor data is aligned to its element size whenever the writer padded the header to a
// multiple of 8 bytes, as the reference writer and write_safetensors() do.
class SafetensorsFile {
 public:
  // Maps and validates `path`. Throws LoadError naming the file (and the tensor, where the
  // problem is one tensor's entry).
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  // Validates the `size` bytes at `bytes` as a whole safetensors file exactly as open() does,
  // `name` standing for the path in errors. `owner` keeps the bytes alive as long as the file
  // and its views (the fuzz target and in-memory loaders use this).
  static std::shared_ptr<SafetensorsFile> from_bytes(std::shared_ptr<const void> owner,
                                                     const unsigned char* bytes, size_t size,
                                                     const std::string& name);

  const std::string& path() const { return path_; }
  // The "__metadata__" string map (empty when the header has none).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Tensor names in lexicographic order.
  std::vector<std::string> names() const;
  // The view of tensor `name`, or nullptr when the file has no such tensor.
  const TensorView* find(const std::string& name) const;
  // The view of tensor `name`; throws LoadError "<path>: tensor <name> not found".
  const TensorView& get(const std::string& name) const;
  // Bytes of tensor data (the file size minus the header).
  size_t data_size() const { return data_size_; }

  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

 private:
  SafetensorsFile() = default;

  std::string path_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, TensorView> tensors_;
  size_t data_size_ = 0;
};

// Writes `tensors` (in the given order, contiguously) and `metadata` to `path` in the
// safetensors format, header padded with spaces to a multiple of 8 bytes. Throws LoadError
// naming the file and tensor when a name repeats or a view's nbytes does not match its shape,
// and naming the file when it cannot be written.
void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata);

// The same file written one tensor at a time: the header from `tensors`, then each tensor's
// bytes as `produce` makes them, so a checkpoint larger than memory can be written. Written
// to PATH.partial and renamed into place, so a reader never sees half a file; an exception
// from `produce` removes the partial file and propagates. Errors as write_safetensors().
void write_safetensors_streaming(const std::string& path, const std::vector<TensorLayout>& tensors,
                                 const TensorProducer& produce,
                                 const std::map<std::string, std::string>& metadata);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_SAFETENSORS_H_
