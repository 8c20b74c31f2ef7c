#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>

#include "io/gguf.h"

namespace flx::flux {
namespace {

class ByteSink {
 public:
  void u32(uint32_t value) { little_endian(value, 4); }
  void u64(uint64_t value) { little_endian(value, 8); }
  void string(const std::string& text) {
    u64(text.size());
    bytes_ += text;
  }
  void value(const std::string& key, const GgufValue& value) {
    switch (value.type) {
      case GgufType::STRING: string(value.string_value); return;
      case GgufType::FLOAT32: {
        const float f = static_cast<float>(value.float_value);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        u32(bits);
        return;
      }
      case GgufType::FLOAT64: {
        uint64_t bits;
        std::memcpy(&bits, &value.float_value, 8);
        u64(bits);
        return;
      }
      case GgufType::UINT8: case GgufType::BOOL: little_endian(value.unsigned_value, 1); return;
      case GgufType::UINT16: little_endian(value.unsigned_value, 2); return;
      case GgufType::UINT32: little_endian(value.unsigned_value, 4); return;
      case GgufType::UINT64: little_endian(value.unsigned_value, 8); return;
      case GgufType::INT8: little_endian(static_cast<uint64_t>(value.signed_value), 1); return;
      case GgufType::INT16: little_endian(static_cast<uint64_t>(value.signed_value), 2); return;
      case GgufType::INT32: little_endian(static_cast<uint64_t>(value.signed_value), 4); return;
      case GgufType::INT64: little_endian(static_cast<uint64_t>(value.signed_value), 8); return;
      case GgufType::ARRAY: break;
    }
    throw std::logic_error("write_gguf: metadata " + key + ": arrays are not written");
  }
  const std::string& bytes() const { return bytes_; }

 private:
  void little_endian(uint64_t value, int width) {
    for (int i = 0; i < width; ++i) bytes_ += static_cast<char>((value >> (8 * i)) & 0xFF);
  }
  std::string bytes_;
};

uint64_t padded(uint64_t size, uint64_t alignment) {
  return (size + alignment - 1) / alignment * alignment;
}

// The header (everything before the data section), after checking every tensor.
std::string build_header(const std::string& path, const std::vector<GgufMetadataEntry>& metadata,
                         const std::vector<GgufTensorSpec>& tensors, uint32_t alignment) {
  std::vector<GgufMetadataEntry> entries = metadata;
  if (alignment != 32) entries.push_back(gguf_uint32("general.alignment", alignment));
  std::string header = "GGUF";
  ByteSink body;
  body.u32(3);
  body.u64(tensors.size());
  body.u64(entries.size());
  std::set<std::string> keys;
  for (const GgufMetadataEntry& entry : entries) {
    if (!keys.insert(entry.key).second) throw LoadError(path + ": metadata key " + entry.key + " repeated");
    body.string(entry.key);
    body.u32(static_cast<uint32_t>(entry.value.type));
    body.value(entry.key, entry.value);
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const GgufTensorSpec& tensor : tensors) {
    const std::string where = path + ": tensor " + tensor.name;
    if (!names.insert(tensor.name).second) throw LoadError(where + ": name repeated");
    std::optional<uint32_t> type = ggml_type_of(tensor.dtype);
    if (!type) throw LoadError(where + ": " + dtype_name(tensor.dtype) + " has no GGUF type");
    if (tensor.shape.empty() || tensor.shape.size() > 4) {
      throw LoadError(where + ": GGUF tensors have 1 to 4 dimensions, not " +
                      std::to_string(tensor.shape.size()));
    }
    std::optional<uint64_t> nbytes = tensor_bytes(tensor.dtype, tensor.shape);
    if (!nbytes) {
      throw LoadError(where + ": shape " + shape_string(tensor.shape) + " does not hold whole " +
                      dtype_name(tensor.dtype) + " blocks");
    }
    body.string(tensor.name);
    body.u32(static_cast<uint32_t>(tensor.shape.size()));
    for (auto dim = tensor.shape.rbegin(); dim != tensor.shape.rend(); ++dim) body.u64(*dim);
    body.u32(*type);
    body.u64(offset);
    offset = padded(offset + *nbytes, alignment);
  }
  header += body.bytes();
  header.append(padded(header.size(), alignment) - header.size(), '\0');
  return header;
}

}  // namespace

GgufMetadataEntry gguf_string(std::string key, std::string value) {
  GgufMetadataEntry entry{std::move(key), {}};
  entry.value.type = GgufType::STRING;
  entry.value.string_value = std::move(value);
  return entry;
}

GgufMetadataEntry gguf_uint32(std::string key, uint32_t value) {
  GgufMetadataEntry entry{std::move(key), {}};
  entry.value.type = GgufType::UINT32;
  entry.value.unsigned_value = value;
  return entry;
}

GgufMetadataEntry gguf_float32(std::string key, float value) {
  GgufMetadataEntry entry{std::move(key), {}};
  entry.value.type = GgufType::FLOAT32;
  entry.value.float_value = value;
  return entry;
}

void write_gguf_streaming(const std::string& path, const std::vector<GgufMetadataEntry>& metadata,
                          const std::vector<GgufTensorSpec>& tensors,
                          const GgufTensorProducer& produce, uint32_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    throw LoadError(path + ": alignment " + std::to_string(alignment) + " is not a power of two");
  }
  const std::string header = build_header(path, metadata, tensors, alignment);
  const std::string partial = path + ".partial";
  try {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    if (!out) throw LoadError(partial + ": cannot open for writing");
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    const std::string padding(alignment, '\0');
    std::vector<unsigned char> buffer;
    for (size_t i = 0; i < tensors.size(); ++i) {
      buffer.assign(static_cast<size_t>(*tensor_bytes(tensors[i].dtype, tensors[i].shape)), 0);
      produce(i, buffer.data(), buffer.size());
      out.write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(buffer.size()));
      out.write(padding.data(),
                static_cast<std::streamsize>(padded(buffer.size(), alignment) - buffer.size()));
      if (!out) throw LoadError(path + ": write failed at tensor " + tensors[i].name);
    }
    out.close();
    if (!out) throw LoadError(path + ": write failed");
  } catch (...) {
    std::remove(partial.c_str());
    throw;
  }
  if (std::rename(partial.c_str(), path.c_str()) != 0) {
    std::remove(partial.c_str());
    throw LoadError(path + ": cannot rename " + partial + " into place");
  }
}

void write_gguf(const std::string& path, const std::vector<GgufMetadataEntry>& metadata,
                const std::vector<TensorView>& tensors, uint32_t alignment) {
  std::vector<GgufTensorSpec> specs;
  for (const TensorView& tensor : tensors) {
    if (tensor_bytes(tensor.dtype, tensor.shape) != std::optional<uint64_t>(tensor.nbytes) ||
        (tensor.nbytes > 0 && tensor.data == nullptr)) {
      throw LoadError(path + ": tensor " + tensor.name + ": " + std::to_string(tensor.nbytes) +
                      " bytes do not match shape " + shape_string(tensor.shape) + " of " +
                      dtype_name(tensor.dtype));
    }
    specs.push_back(GgufTensorSpec{tensor.name, tensor.dtype, tensor.shape});
  }
  write_gguf_streaming(path, metadata, specs,
                       [&](size_t i, unsigned char* out, size_t nbytes) {
                         if (nbytes > 0) std::memcpy(out, tensors[i].data, nbytes);
                       },
                       alignment);
}

}  // namespace flx::flux
