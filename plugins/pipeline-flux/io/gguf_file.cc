#include <cstring>
#include <limits>
#include <set>

#include "io/file_mapping.h"
#include "io/gguf.h"

namespace flx::flux {
namespace {

constexpr uint32_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
constexpr int kMaxArrayNesting = 8;      // arrays of arrays: enough for any real file
constexpr uint64_t kMaxStringBytes = 1ull << 30;

struct GgmlTypeInfo {
  uint32_t id;
  const char* name;
  std::optional<DType> dtype;  // nullopt: a ggml type we do not read
};

// ggml's enum ggml_type (ggml.h); ids 4 and 5 (Q4_2, Q4_3) were removed long ago.
const GgmlTypeInfo kGgmlTypes[] = {
    {0, "F32", DType::F32},       {1, "F16", DType::F16},       {2, "Q4_0", DType::Q4_0},
    {3, "Q4_1", DType::Q4_1},     {6, "Q5_0", DType::Q5_0},     {7, "Q5_1", DType::Q5_1},
    {8, "Q8_0", DType::Q8_0},     {9, "Q8_1", std::nullopt},    {10, "Q2_K", DType::Q2_K},
    {11, "Q3_K", DType::Q3_K},    {12, "Q4_K", DType::Q4_K},    {13, "Q5_K", DType::Q5_K},
    {14, "Q6_K", DType::Q6_K},    {15, "Q8_K", std::nullopt},   {16, "IQ2_XXS", std::nullopt},
    {17, "IQ2_XS", std::nullopt}, {18, "IQ3_XXS", std::nullopt}, {19, "IQ1_S", std::nullopt},
    {20, "IQ4_NL", std::nullopt}, {21, "IQ3_S", std::nullopt},  {22, "IQ2_S", std::nullopt},
    {23, "IQ4_XS", std::nullopt}, {24, "I8", DType::I8},        {25, "I16", DType::I16},
    {26, "I32", DType::I32},      {27, "I64", DType::I64},      {28, "F64", DType::F64},
    {29, "IQ1_M", std::nullopt},  {30, "BF16", DType::BF16},    {34, "TQ1_0", std::nullopt},
    {35, "TQ2_0", std::nullopt},
};

const GgmlTypeInfo* ggml_type_info(uint32_t id) {
  for (const GgmlTypeInfo& info : kGgmlTypes) {
    if (info.id == id) return &info;
  }
  return nullptr;
}

std::string supported_types() {
  std::string out;
  for (const GgmlTypeInfo& info : kGgmlTypes) {
    if (!info.dtype) continue;
    if (!out.empty()) out += ", ";
    out += info.name;
  }
  return out;
}

size_t scalar_size(GgufType type) {
  switch (type) {
    case GgufType::UINT8: case GgufType::INT8: case GgufType::BOOL: return 1;
    case GgufType::UINT16: case GgufType::INT16: return 2;
    case GgufType::UINT32: case GgufType::INT32: case GgufType::FLOAT32: return 4;
    case GgufType::UINT64: case GgufType::INT64: case GgufType::FLOAT64: return 8;
    default: return 0;  // STRING, ARRAY: variable
  }
}

bool is_known_type(uint32_t raw) { return raw <= static_cast<uint32_t>(GgufType::FLOAT64); }

}  // namespace

// Reads the header front to back with bounds checks; every failure is a LoadError naming the
// file and what was being read.
class GgufParser {
 public:
  GgufParser(const unsigned char* bytes, size_t size, std::string path)
      : bytes_(bytes), size_(size), path_(std::move(path)) {}

  std::shared_ptr<GgufFile> parse(std::shared_ptr<const void> owner) {
    auto file = std::shared_ptr<GgufFile>(new GgufFile());
    file->path_ = path_;
    read_preamble(file.get());
    const uint64_t tensor_count = u64("the tensor count");
    const uint64_t kv_count = u64("the metadata count");
    // Each metadata entry takes at least 13 bytes, each tensor info at least 24: reject
    // counts the file cannot hold before reserving anything.
    if (kv_count > remaining() / 13 || tensor_count > remaining() / 24) {
      fail("header counts (" + std::to_string(kv_count) + " metadata entries, " +
           std::to_string(tensor_count) + " tensors) exceed what the file can hold");
    }
    for (uint64_t i = 0; i < kv_count; ++i) read_metadata_entry(file.get());
    read_alignment(file.get());
    std::vector<PendingTensor> pending;
    pending.reserve(tensor_count);
    std::set<std::string> names;
    for (uint64_t i = 0; i < tensor_count; ++i) {
      pending.push_back(read_tensor_info());
      if (!names.insert(pending.back().name).second) {
        fail("tensor " + pending.back().name + " appears twice");
      }
    }
    place_tensors(file.get(), pending, std::move(owner));
    return file;
  }

 private:
  struct PendingTensor {
    std::string name;
    std::vector<int64_t> shape;  // torch order
    DType dtype = DType::F32;
    uint64_t offset = 0;
    uint64_t nbytes = 0;
  };

  [[noreturn]] void fail(const std::string& what) const {
    throw LoadError(path_ + ": " + what);
  }

  size_t remaining() const { return size_ - at_; }

  const unsigned char* take(size_t count, const std::string& what) {
    if (count > remaining()) {
      fail("truncated: " + what + " at byte " + std::to_string(at_) + " runs past the end of the " +
           std::to_string(size_) + "-byte file");
    }
    const unsigned char* start = bytes_ + at_;
    at_ += count;
    return start;
  }

  uint64_t little_endian(size_t width, const std::string& what) {
    const unsigned char* p = take(width, what);
    uint64_t value = 0;
    for (size_t i = width; i-- > 0;) value = (value << 8) | p[i];
    return value;
  }
  uint32_t u32(const std::string& what) { return static_cast<uint32_t>(little_endian(4, what)); }
  uint64_t u64(const std::string& what) { return little_endian(8, what); }

  std::string string(const std::string& what) {
    const uint64_t length = u64(what + " length");
    if (length > kMaxStringBytes) fail(what + " is " + std::to_string(length) + " bytes long");
    const unsigned char* p = take(static_cast<size_t>(length), what);
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(length));
  }

  void read_preamble(GgufFile* file) {
    const unsigned char* magic = take(4, "the magic");
    if (std::memcmp(magic, "GGUF", 4) != 0) fail("not a GGUF file (no \"GGUF\" magic)");
    file->version_ = u32("the version");
    if (file->version_ == 1) {
      fail("GGUF version 1 is not supported (32-bit counts); convert the file again with a "
           "current llama.cpp or stable-diffusion.cpp");
    }
    if (file->version_ != 2 && file->version_ != 3) {
      const bool swapped = file->version_ == 0x02000000u || file->version_ == 0x03000000u;
      fail(swapped ? "big-endian GGUF files are not supported"
                   : "unsupported GGUF version " + std::to_string(file->version_) +
                         " (2 and 3 are read)");
    }
  }

  void read_metadata_entry(GgufFile* file) {
    std::string key = string("a metadata key");
    const uint32_t raw_type = u32("the type of metadata " + key);
    if (!is_known_type(raw_type)) {
      fail("metadata " + key + ": unknown value type " + std::to_string(raw_type));
    }
    GgufValue value = read_value(static_cast<GgufType>(raw_type), "metadata " + key, 0);
    if (!file->metadata_.emplace(key, std::move(value)).second) {
      fail("metadata key " + key + " appears twice");
    }
  }

  GgufValue read_value(GgufType type, const std::string& what, int depth) {
    GgufValue value;
    value.type = type;
    switch (type) {
      case GgufType::STRING: value.string_value = string(what); break;
      case GgufType::ARRAY: read_array(&value, what, depth); break;
      case GgufType::FLOAT32: {
        const uint32_t bits = u32(what);
        float f;
        std::memcpy(&f, &bits, 4);
        value.float_value = f;
        break;
      }
      case GgufType::FLOAT64: {
        const uint64_t bits = u64(what);
        std::memcpy(&value.float_value, &bits, 8);
        break;
      }
      case GgufType::INT8: case GgufType::INT16: case GgufType::INT32: case GgufType::INT64: {
        const size_t width = scalar_size(type);
        const uint64_t raw = little_endian(width, what);
        const int shift = static_cast<int>(64 - 8 * width);  // sign-extend
        value.signed_value = static_cast<int64_t>(raw << shift) >> shift;
        break;
      }
      case GgufType::BOOL: {
        value.unsigned_value = little_endian(1, what);
        if (value.unsigned_value > 1) fail(what + ": bool byte " + std::to_string(value.unsigned_value));
        break;
      }
      default: value.unsigned_value = little_endian(scalar_size(type), what); break;
    }
    return value;
  }

  // Arrays are checked (every nested string length and array count) but not decoded.
  void read_array(GgufValue* value, const std::string& what, int depth) {
    if (depth >= kMaxArrayNesting) fail(what + ": arrays nested deeper than 8");
    const uint32_t raw_type = u32(what + " element type");
    if (!is_known_type(raw_type)) fail(what + ": unknown array element type " + std::to_string(raw_type));
    value->element_type = static_cast<GgufType>(raw_type);
    value->element_count = u64(what + " element count");
    value->array_bytes = bytes_ + at_;
    const size_t fixed = scalar_size(value->element_type);
    if (fixed > 0) {
      if (value->element_count > remaining() / fixed) {
        fail("truncated: " + what + " holds " + std::to_string(value->element_count) +
             " elements, more than the file has left");
      }
      take(static_cast<size_t>(value->element_count) * fixed, what);
      return;
    }
    // Variable-size elements take at least 8 bytes each (a length or an array header).
    if (value->element_count > remaining() / 8) {
      fail("truncated: " + what + " holds " + std::to_string(value->element_count) +
           " elements, more than the file has left");
    }
    for (uint64_t i = 0; i < value->element_count; ++i) {
      if (value->element_type == GgufType::STRING) {
        const uint64_t length = u64(what + " string length");
        take(length > remaining() ? remaining() + 1 : static_cast<size_t>(length), what + " string");
      } else {
        GgufValue nested;
        read_array(&nested, what + "[" + std::to_string(i) + "]", depth + 1);
      }
    }
  }

  void read_alignment(GgufFile* file) {
    file->alignment_ = kDefaultAlignment;
    const GgufValue* value = file->find_value("general.alignment");
    if (value == nullptr) return;
    if (value->type != GgufType::UINT32) {
      fail("metadata general.alignment must be UINT32, found " +
           std::string(gguf_type_name(value->type)));
    }
    const uint64_t alignment = value->unsigned_value;
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
      fail("metadata general.alignment " + std::to_string(alignment) + " is not a power of two");
    }
    file->alignment_ = static_cast<uint32_t>(alignment);
  }

  PendingTensor read_tensor_info() {
    PendingTensor tensor;
    tensor.name = string("a tensor name");
    const std::string where = "tensor " + tensor.name;
    const uint32_t n_dims = u32(where + " dimension count");
    if (n_dims == 0 || n_dims > kMaxDims) {
      fail(where + ": " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
    }
    std::vector<int64_t> ne(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = u64(where + " dimension");
      if (dim > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()) * 64) {
        fail(where + ": dimension " + std::to_string(d) + " is " + std::to_string(dim));
      }
      ne[d] = static_cast<int64_t>(dim);
    }
    tensor.shape.assign(ne.rbegin(), ne.rend());
    const uint32_t type = u32(where + " type");
    const GgmlTypeInfo* info = ggml_type_info(type);
    if (info == nullptr || !info->dtype) {
      fail(where + ": tensor type " + ggml_type_name(type) + " is not supported (supported: " +
           supported_types() + ")");
    }
    tensor.dtype = *info->dtype;
    tensor.offset = u64(where + " offset");
    std::optional<uint64_t> nbytes = tensor_bytes(tensor.dtype, tensor.shape);
    if (!nbytes) {
      fail(where + ": row length " + std::to_string(ne[0]) + " is not a multiple of the " +
           info->name + " block of " + std::to_string(dtype_layout(tensor.dtype).block_elements) +
           " values (or the shape " + shape_string(tensor.shape) + " is too large)");
    }
    tensor.nbytes = *nbytes;
    return tensor;
  }

  void place_tensors(GgufFile* file, const std::vector<PendingTensor>& pending,
                     std::shared_ptr<const void> owner) {
    if (pending.empty()) return;  // metadata only: no data section, padded or not
    const uint64_t alignment = file->alignment_;
    const uint64_t data_start = (at_ + alignment - 1) / alignment * alignment;
    if (data_start > size_) {
      fail("truncated: the data section would start at byte " + std::to_string(data_start) +
           " of a " + std::to_string(size_) + "-byte file");
    }
    file->data_size_ = size_ - static_cast<size_t>(data_start);
    for (const PendingTensor& tensor : pending) {
      const std::string where = "tensor " + tensor.name;
      if (tensor.offset % alignment != 0) {
        fail(where + ": offset " + std::to_string(tensor.offset) + " is not a multiple of the " +
             std::to_string(alignment) + "-byte alignment");
      }
      if (tensor.offset > file->data_size_ || tensor.nbytes > file->data_size_ - tensor.offset) {
        fail("truncated: " + where + " (" + dtype_name(tensor.dtype) + " " +
             shape_string(tensor.shape) + ", " + std::to_string(tensor.nbytes) +
             " bytes at offset " + std::to_string(tensor.offset) + ") runs past the end of the " +
             std::to_string(file->data_size_) + "-byte data section");
      }
      TensorView view;
      view.name = tensor.name;
      view.dtype = tensor.dtype;
      view.shape = tensor.shape;
      view.data = bytes_ + data_start + tensor.offset;
      view.nbytes = static_cast<size_t>(tensor.nbytes);
      view.owner = owner;
      file->order_.push_back(tensor.name);
      file->tensors_.emplace(tensor.name, std::move(view));
    }
  }

  const unsigned char* bytes_;
  size_t size_;
  size_t at_ = 0;
  std::string path_;
};

const char* gguf_type_name(GgufType type) {
  static const char* const kNames[] = {"UINT8",  "INT8",    "UINT16", "INT16", "UINT32",
                                       "INT32",  "FLOAT32", "BOOL",   "STRING", "ARRAY",
                                       "UINT64", "INT64",   "FLOAT64"};
  const auto index = static_cast<uint32_t>(type);
  return index < sizeof kNames / sizeof kNames[0] ? kNames[index] : "UNKNOWN";
}

std::optional<uint64_t> GgufValue::as_unsigned() const {
  switch (type) {
    case GgufType::UINT8: case GgufType::UINT16: case GgufType::UINT32: case GgufType::UINT64:
      return unsigned_value;
    case GgufType::INT8: case GgufType::INT16: case GgufType::INT32: case GgufType::INT64:
      if (signed_value >= 0) return static_cast<uint64_t>(signed_value);
      return std::nullopt;
    default: return std::nullopt;
  }
}

std::optional<int64_t> GgufValue::as_signed() const {
  if (type == GgufType::INT8 || type == GgufType::INT16 || type == GgufType::INT32 ||
      type == GgufType::INT64) {
    return signed_value;
  }
  std::optional<uint64_t> u = as_unsigned();
  if (u && *u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return int64_t(*u);
  return std::nullopt;
}

std::string GgufValue::describe() const {
  switch (type) {
    case GgufType::STRING: return "\"" + string_value + "\"";
    case GgufType::ARRAY:
      return "[" + std::to_string(element_count) + " x " + gguf_type_name(element_type) + "]";
    case GgufType::FLOAT32: case GgufType::FLOAT64: return std::to_string(float_value);
    case GgufType::BOOL: return unsigned_value ? "true" : "false";
    default: {
      std::optional<int64_t> s = as_signed();
      return s ? std::to_string(*s) : std::to_string(unsigned_value);
    }
  }
}

std::optional<DType> dtype_of_ggml_type(uint32_t ggml_type) {
  const GgmlTypeInfo* info = ggml_type_info(ggml_type);
  return info ? info->dtype : std::nullopt;
}

std::string ggml_type_name(uint32_t ggml_type) {
  const GgmlTypeInfo* info = ggml_type_info(ggml_type);
  return info ? std::string(info->name) + " (type " + std::to_string(ggml_type) + ")"
              : "type " + std::to_string(ggml_type);
}

std::optional<uint32_t> ggml_type_of(DType dtype) {
  for (const GgmlTypeInfo& info : kGgmlTypes) {
    if (info.dtype == dtype) return info.id;
  }
  return std::nullopt;
}

std::shared_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::shared_ptr<const FileMapping> mapping = map_file(path);
  std::shared_ptr<GgufFile> file = from_bytes(mapping, mapping->bytes(), mapping->length(), path);
  for (auto& [name, view] : file->tensors_) view.file = mapping.get();
  return file;
}

std::shared_ptr<GgufFile> GgufFile::from_bytes(std::shared_ptr<const void> owner,
                                               const unsigned char* bytes, size_t size,
                                               const std::string& name) {
  return GgufParser(bytes, size, name).parse(std::move(owner));
}

const GgufValue* GgufFile::find_value(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

std::optional<std::string> GgufFile::string_value(const std::string& key) const {
  const GgufValue* value = find_value(key);
  if (value == nullptr || value->type != GgufType::STRING) return std::nullopt;
  return value->string_value;
}

const TensorView* GgufFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace flx::flux
