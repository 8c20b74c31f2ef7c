#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>

#include "io/safetensors.h"

namespace flx::flux {
namespace {

void append_json_string(std::string& out, const std::string& text) {
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

std::string build_header(const std::string& path, const std::vector<TensorLayout>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  std::string header = "{";
  bool first = true;
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (const auto& [key, value] : metadata) {
      if (!first) header += ',';
      first = false;
      append_json_string(header, key);
      header += ':';
      append_json_string(header, value);
    }
    header += '}';
  }
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const TensorLayout& tensor : tensors) {
    if (tensor.name == "__metadata__" || !seen.insert(tensor.name).second) {
      throw LoadError(path + ": tensor " + tensor.name + ": name repeated or reserved");
    }
    if (!parse_dtype(dtype_name(tensor.dtype))) {
      throw LoadError(path + ": tensor " + tensor.name + ": " + dtype_name(tensor.dtype) +
                      " has no safetensors dtype (ggml block types are written to GGUF)");
    }
    const std::optional<uint64_t> bytes = tensor_bytes(tensor.dtype, tensor.shape);
    if (!bytes) {
      throw LoadError(path + ": tensor " + tensor.name + ": shape " + shape_string(tensor.shape) +
                      " has no byte size");
    }
    const uint64_t nbytes = *bytes;
    if (!first) header += ',';
    first = false;
    append_json_string(header, tensor.name);
    header += ":{\"dtype\":\"";
    header += dtype_name(tensor.dtype);
    header += "\",\"shape\":" + shape_string(tensor.shape);
    header += ",\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + nbytes) + "]}";
    offset += nbytes;
  }
  header += '}';
  // Padding keeps every tensor aligned to its element size once the file is mapped.
  header.append((8 - header.size() % 8) % 8, ' ');
  return header;
}

}  // namespace

void write_safetensors_streaming(const std::string& path, const std::vector<TensorLayout>& tensors,
                                 const TensorProducer& produce,
                                 const std::map<std::string, std::string>& metadata) {
  const std::string header = build_header(path, tensors, metadata);
  const std::string partial = path + ".partial";
  try {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    if (!out) throw LoadError(partial + ": cannot open for writing");
    unsigned char length[8];
    const uint64_t header_size = header.size();
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(header_size >> (8 * i));
    out.write(reinterpret_cast<const char*>(length), sizeof length);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    std::vector<unsigned char> buffer;
    for (size_t i = 0; i < tensors.size(); ++i) {
      buffer.assign(static_cast<size_t>(*tensor_bytes(tensors[i].dtype, tensors[i].shape)), 0);
      produce(i, buffer.data(), buffer.size());
      out.write(reinterpret_cast<const char*>(buffer.data()),
                static_cast<std::streamsize>(buffer.size()));
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

void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<TensorLayout> layouts;
  for (const TensorView& tensor : tensors) {
    const uint64_t expected = static_cast<uint64_t>(tensor.numel()) * dtype_size(tensor.dtype);
    if (tensor.nbytes != expected || (tensor.nbytes > 0 && tensor.data == nullptr)) {
      throw LoadError(path + ": tensor " + tensor.name + ": " + std::to_string(tensor.nbytes) +
                      " bytes do not match shape " + shape_string(tensor.shape) + " of " +
                      dtype_name(tensor.dtype));
    }
    layouts.push_back(TensorLayout{tensor.name, tensor.dtype, tensor.shape});
  }
  write_safetensors_streaming(path, layouts,
                              [&](size_t i, unsigned char* out, size_t nbytes) {
                                if (nbytes > 0) std::memcpy(out, tensors[i].data, nbytes);
                              },
                              metadata);
}

}  // namespace flx::flux
