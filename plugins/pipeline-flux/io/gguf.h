// gguf.h — our own reader of GGUF, the file format of ggml, llama.cpp, stable-diffusion.cpp
// and ComfyUI-GGUF (specified in ggml's docs/gguf.md). Like the safetensors reader it maps
// the file, validates all of the header before returning, and hands out zero-copy views.
//
// Layout (all little-endian): "GGUF", uint32 version, uint64 tensor count, uint64 metadata
// count; the metadata (key string, uint32 value type, value); the tensor infos (name string,
// uint32 n_dims, uint64 ne[n_dims] innermost first, uint32 ggml type, uint64 offset relative
// to the data section); padding to `general.alignment` (default 32); the data section.
// Strings are a uint64 length and bytes (no terminator). Version 1 used 32-bit counts and
// lengths; it predates every published FLUX/T5 file and is refused with a clear message.
#ifndef FLX_FLUX_IO_GGUF_H_
#define FLX_FLUX_IO_GGUF_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/tensor.h"

namespace flx::flux {

// GGUF metadata value types (gguf_type in ggml).
enum class GgufType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12
};
const char* gguf_type_name(GgufType type);

// One metadata value. Scalars are decoded; arrays keep their element type and count and are
// decoded on demand (a T5 GGUF carries a megabyte of vocabulary arrays nobody here needs).
struct GgufValue {
  GgufType type = GgufType::UINT8;
  uint64_t unsigned_value = 0;  // UINT8..UINT64, BOOL
  int64_t signed_value = 0;     // INT8..INT64
  double float_value = 0;       // FLOAT32, FLOAT64
  std::string string_value;     // STRING
  GgufType element_type = GgufType::UINT8;  // ARRAY
  uint64_t element_count = 0;               // ARRAY
  const unsigned char* array_bytes = nullptr;  // ARRAY: the encoded elements, inside the file

  // The value as an unsigned/signed integer when it is an integer type holding one in range.
  std::optional<uint64_t> as_unsigned() const;
  std::optional<int64_t> as_signed() const;
  // A short rendering for messages and descriptions ("7", "\"flux\"", "[512 x STRING]").
  std::string describe() const;
};

// The ggml type ids GGUF tensors carry, and the DType each supported one is read as.
std::optional<DType> dtype_of_ggml_type(uint32_t ggml_type);
// ggml's name of a type id ("Q8_0", "IQ2_XXS", ...) or "type <id>" when unknown.
std::string ggml_type_name(uint32_t ggml_type);
// The ggml type id of a DType (F32, F16, BF16, I8..I64, F64, the block types); nullopt for
// fp8 and BOOL, which GGUF has no type for.
std::optional<uint32_t> ggml_type_of(DType dtype);

class GgufFile {
 public:
  // Maps and validates `path`. Throws LoadError naming the file, and the key or tensor where
  // the problem is one entry.
  static std::shared_ptr<GgufFile> open(const std::string& path);
  // Validates `size` bytes as a whole GGUF file, `name` standing for the path in errors;
  // `owner` keeps the bytes alive as long as the file and its views.
  static std::shared_ptr<GgufFile> from_bytes(std::shared_ptr<const void> owner,
                                              const unsigned char* bytes, size_t size,
                                              const std::string& name);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  // The value of `key`, or nullptr.
  const GgufValue* find_value(const std::string& key) const;
  // The string value of `key`, or nullopt when absent or not a string.
  std::optional<std::string> string_value(const std::string& key) const;
  // Tensor names in file order.
  const std::vector<std::string>& tensor_names() const { return order_; }
  // The view of `name` (shape in torch order, i.e. ne reversed), or nullptr.
  const TensorView* find(const std::string& name) const;
  // Bytes of the data section.
  size_t data_size() const { return data_size_; }

  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

 private:
  GgufFile() = default;
  friend class GgufParser;

  std::string path_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  std::map<std::string, GgufValue> metadata_;
  std::vector<std::string> order_;
  std::map<std::string, TensorView> tensors_;
  size_t data_size_ = 0;
};

// One metadata entry to write: a scalar or a string (arrays are not written).
struct GgufMetadataEntry {
  std::string key;
  GgufValue value;
};
GgufMetadataEntry gguf_string(std::string key, std::string value);
GgufMetadataEntry gguf_uint32(std::string key, uint32_t value);
GgufMetadataEntry gguf_float32(std::string key, float value);

// One tensor to be written by write_gguf_streaming() (shape in torch order, written as ne
// reversed), and the producer of its bytes.
using GgufTensorSpec = TensorLayout;
using GgufTensorProducer = TensorProducer;

// Writes a GGUF v3 file holding one tensor in memory at a time: the header from `tensors`,
// then each tensor's bytes as `produce` makes them, padded to `alignment`. For files larger
// than memory (quantizing a 12 B transformer). Errors and atomicity as write_gguf(); an
// exception from `produce` removes the partial file and propagates.
void write_gguf_streaming(const std::string& path, const std::vector<GgufMetadataEntry>& metadata,
                          const std::vector<GgufTensorSpec>& tensors,
                          const GgufTensorProducer& produce, uint32_t alignment = 32);

// Writes a GGUF v3 file: `metadata` in order, then `tensors` in order, each tensor's data
// padded to `alignment` (written as general.alignment when it is not the default 32). Each
// view's dtype must have a ggml type (not fp8 or BOOL) and its bytes match its shape. Writes
// to a temporary file renamed into place, so a reader never sees half a file. Throws
// LoadError naming the file and tensor on a bad view or a failed write.
void write_gguf(const std::string& path, const std::vector<GgufMetadataEntry>& metadata,
                const std::vector<TensorView>& tensors, uint32_t alignment = 32);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_GGUF_H_
