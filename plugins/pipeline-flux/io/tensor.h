// tensor.h — what a loaded weight looks like to the rest of pipeline-flux: a typed,
// shaped, read-only view of bytes that someone else keeps alive.
#ifndef FLX_FLUX_IO_TENSOR_H_
#define FLX_FLUX_IO_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <functional>
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

// The element types a weight can arrive in. The first ten are plain types libtorch computes
// in; the rest are storage formats that must be dequantized before use (is_quantized()):
// fp8 (e4m3fn, e5m2; one byte per element, safetensors "F8_E4M3"/"F8_E5M2") and ggml's block
// formats from GGUF files, where a row of the innermost dimension is stored as blocks of
// `block_elements` values in `block_bytes` bytes (io/ggml_blocks.h has their layouts).
enum class DType {
  F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL,
  F8_E4M3, F8_E5M2,
  Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K
};

// The spelling of `dtype`: the safetensors name for the plain and fp8 types ("F32", "BF16",
// "F8_E4M3", ...), ggml's name for the block types ("Q8_0", "Q4_K", ...).
const char* dtype_name(DType dtype);
// Bytes per element of a type stored element by element (every type but the block types).
// Throws std::logic_error for a block type, whose size only a whole row has (tensor_bytes()).
size_t dtype_size(DType dtype);
// The DType spelled `name` in a safetensors header (plain types and fp8), or nullopt.
std::optional<DType> parse_dtype(const std::string& name);

// How `dtype` packs a row: `block_elements` values in `block_bytes` bytes (1 and the element
// size for the types stored element by element).
struct DTypeLayout {
  int64_t block_elements = 1;
  size_t block_bytes = 0;
};
DTypeLayout dtype_layout(DType dtype);
// True for the storage-only types (fp8 and the block types), which are dequantized to a
// plain floating type before any computation.
bool is_quantized(DType dtype);
// Bytes a tensor of `shape` takes in `dtype`, or nullopt when the innermost dimension is not
// a whole number of blocks (a scalar counts as one element) or the size overflows.
std::optional<uint64_t> tensor_bytes(DType dtype, const std::vector<int64_t>& shape);

class FileMapping;

// "[a,b,c]", the form every shape appears in inside error messages.
std::string shape_string(const std::vector<int64_t>& shape);

// A tensor's bytes in C (row-major) order. `data` stays valid for as long as any copy of
// `owner` lives: for tensors read from a file `owner` is the memory mapping, for tensors
// built in memory (e.g. by a key mapping that has to reorder rows) it is the buffer.
// Invariant for every view handed out by this library: nbytes == tensor_bytes(dtype, shape).
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;
  std::shared_ptr<const void> owner;
  // The read-only file mapping `data` points into (kept alive by `owner`), or nullptr for
  // bytes in memory. Lets a holder give the pages back (TensorStore::release_file_pages()).
  const FileMapping* file = nullptr;
  // Multiplier applied when the view is dequantized: the per-tensor scale of a "scaled fp8"
  // weight (io/fp8_scales.h); 1 for every other tensor.
  float scale = 1.0f;

  // Product of `shape` (1 for a scalar, 0 when any dimension is 0).
  int64_t numel() const;
};

// A tensor a streaming writer will write (write_gguf_streaming, write_safetensors_streaming):
// its name, type and shape, without its bytes.
struct TensorLayout {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // torch order
};
// Fills `out` (nbytes = tensor_bytes of layout `index`) with that tensor's bytes. Streaming
// writers call it once per tensor, in order, so only one tensor need be in memory at a time.
using TensorProducer = std::function<void(size_t index, unsigned char* out, size_t nbytes)>;

// A view whose bytes are a fresh copy owned by the view itself; tests and key mappings
// use it to synthesize tensors.
TensorView make_owned_tensor(std::string name, DType dtype, std::vector<int64_t> shape,
                             const void* bytes, size_t nbytes);

// Rows [first, first + count) of `view` along dimension 0, as a zero-copy view named `name`
// that shares `view.owner`. Throws LoadError naming the tensor when `view` is a scalar or the
// range is outside its rows.
TensorView slice_rows(const TensorView& view, int64_t first, int64_t count, std::string name);

// `view` with a different shape of the same element count, zero-copy. Throws LoadError naming
// the tensor when the counts differ, or when a block type's innermost dimension would split
// a block.
TensorView reshape(const TensorView& view, std::vector<int64_t> shape, std::string name);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_TENSOR_H_
