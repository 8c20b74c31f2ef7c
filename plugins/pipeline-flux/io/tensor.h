// tensor.h — what a loaded weight looks like to the rest of pipeline-flux: a typed,
// shaped, read-only view of bytes that someone else keeps alive.
#ifndef FLX_FLUX_IO_TENSOR_H_
#define FLX_FLUX_IO_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace flx::flux {

// Every failure to find, parse or validate weights, tokenizer files or model folders.
// The message always names the file (or folder) and, where there is one, the tensor.
class LoadError : public std::runtime_error {
  using runtime_error::runtime_error;
};

// The safetensors element types we can hand to the networks. Other types in the
// safetensors spec (F8_*, U16, U32, U64) are rejected at open() with a LoadError.
enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL };

// The safetensors spelling of `dtype`: "F32", "F16", "BF16", "F64", "I64", ..., "BOOL".
const char* dtype_name(DType dtype);
// Bytes per element of `dtype` (BOOL is one byte).
size_t dtype_size(DType dtype);
// The DType spelled `name` in a safetensors header, or nullopt when it is not one of ours.
std::optional<DType> parse_dtype(const std::string& name);

// "[a,b,c]", the form every shape appears in inside error messages.
std::string shape_string(const std::vector<int64_t>& shape);

// A tensor's bytes in C (row-major) order. `data` stays valid for as long as any copy of
// `owner` lives: for tensors read from a file `owner` is the memory mapping, for tensors
// built in memory (e.g. by a key mapping that has to reorder rows) it is the buffer.
// Invariant for every view handed out by this library: nbytes == numel() * dtype_size(dtype).
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;
  std::shared_ptr<const void> owner;

  // Product of `shape` (1 for a scalar, 0 when any dimension is 0).
  int64_t numel() const;
};

// A view whose bytes are a fresh copy owned by the view itself; tests and key mappings
// use it to synthesize tensors.
TensorView make_owned_tensor(std::string name, DType dtype, std::vector<int64_t> shape,
                             const void* bytes, size_t nbytes);

// Rows [first, first + count) of `view` along dimension 0, as a zero-copy view named `name`
// that shares `view.owner`. Throws LoadError naming the tensor when `view` is a scalar or the
// range is outside its rows.
TensorView slice_rows(const TensorView& view, int64_t first, int64_t count, std::string name);

// `view` with a different shape of the same element count, zero-copy. Throws LoadError naming
// the tensor when the counts differ.
TensorView reshape(const TensorView& view, std::vector<int64_t> shape, std::string name);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_TENSOR_H_
