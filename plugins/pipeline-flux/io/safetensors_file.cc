#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/JSONException.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include "io/file_mapping.h"
#include "io/safetensors.h"

namespace flx::flux {
namespace {

// The reference implementation refuses larger headers; so do we, before allocating anything.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr size_t kLengthPrefixBytes = 8;

uint64_t read_u64_le(const unsigned char* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

bool is_valid_utf8(const unsigned char* bytes, size_t length) {
  size_t i = 0;
  while (i < length) {
    unsigned char lead = bytes[i];
    size_t continuation;
    uint32_t code_point;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      continuation = 1;
      code_point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      continuation = 2;
      code_point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      continuation = 3;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (continuation >= length - i) return false;
    for (size_t k = 1; k <= continuation; ++k) {
      if ((bytes[i + k] & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (bytes[i + k] & 0x3F);
    }
    static constexpr uint32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
    if (code_point < kMinimum[continuation] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += continuation + 1;
  }
  return true;
}

// Poco keeps the last of repeated keys; a header naming a tensor twice is malformed, so the
// handler refuses repeated keys within one object instead.
class RepeatedKeyRejectingHandler : public Poco::JSON::ParseHandler {
 public:
  void reset() override {
    open_objects_.clear();
    ParseHandler::reset();
  }
  void startObject() override {
    open_objects_.emplace_back();
    ParseHandler::startObject();
  }
  void endObject() override {
    open_objects_.pop_back();
    ParseHandler::endObject();
  }
  void key(const std::string& name) override {
    if (!open_objects_.back().insert(name).second) {
      throw Poco::JSON::JSONException("repeated key \"" + name + "\"");
    }
    ParseHandler::key(name);
  }

 private:
  std::vector<std::set<std::string>> open_objects_;
};

bool is_object(const Poco::Dynamic::Var& value) {
  return value.type() == typeid(Poco::JSON::Object::Ptr);
}

bool is_array(const Poco::Dynamic::Var& value) {
  return value.type() == typeid(Poco::JSON::Array::Ptr);
}

// A JSON number that is a non-negative integer, or nullopt.
std::optional<uint64_t> as_unsigned(const Poco::Dynamic::Var& value) {
  if (!value.isInteger() || value.isBoolean()) return std::nullopt;
  if (value.isSigned()) {
    int64_t signed_value = value.convert<int64_t>();
    if (signed_value < 0) return std::nullopt;
    return static_cast<uint64_t>(signed_value);
  }
  return value.convert<uint64_t>();
}

// Parses one tensor entry of the header; the returned view's data is not yet set.
struct ParsedTensor {
  TensorView view;
  uint64_t begin = 0;
  uint64_t end = 0;
};

ParsedTensor parse_tensor_entry(const std::string& path, const std::string& name,
                                const Poco::Dynamic::Var& entry, uint64_t data_size) {
  const std::string where = path + ": tensor " + name + ": ";
  if (!is_object(entry)) throw LoadError(where + "header entry is not a JSON object");
  const Poco::JSON::Object::Ptr object = entry.extract<Poco::JSON::Object::Ptr>();

  ParsedTensor parsed;
  parsed.view.name = name;

  Poco::Dynamic::Var dtype = object->get("dtype");
  if (dtype.isEmpty() || !dtype.isString())
    throw LoadError(where + "\"dtype\" missing or not a string");
  std::optional<DType> parsed_dtype = parse_dtype(dtype.toString());
  if (!parsed_dtype)
    throw LoadError(where + "unknown or unsupported dtype \"" + dtype.toString() + "\"");
  parsed.view.dtype = *parsed_dtype;

  Poco::Dynamic::Var shape = object->get("shape");
  if (shape.isEmpty() || !is_array(shape))
    throw LoadError(where + "\"shape\" missing or not an array");
  const Poco::JSON::Array::Ptr dims = shape.extract<Poco::JSON::Array::Ptr>();
  uint64_t numel = 1;
  bool overflow = false;
  for (size_t i = 0; i < dims->size(); ++i) {
    std::optional<uint64_t> dim = as_unsigned(dims->get(i));
    if (!dim || *dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw LoadError(where + "shape dimension " + std::to_string(i) +
                      " is not a non-negative integer");
    }
    parsed.view.shape.push_back(static_cast<int64_t>(*dim));
    if (*dim != 0 && numel > std::numeric_limits<uint64_t>::max() / *dim) overflow = true;
    numel *= *dim;
  }
  const uint64_t element_size = dtype_size(parsed.view.dtype);
  if (overflow || numel > std::numeric_limits<uint64_t>::max() / element_size) {
    throw LoadError(where + "shape " + shape_string(parsed.view.shape) + " is too large");
  }

  Poco::Dynamic::Var offsets = object->get("data_offsets");
  if (offsets.isEmpty() || !is_array(offsets)) {
    throw LoadError(where + "\"data_offsets\" missing or not an array");
  }
  const Poco::JSON::Array::Ptr pair = offsets.extract<Poco::JSON::Array::Ptr>();
  std::optional<uint64_t> begin = pair->size() == 2 ? as_unsigned(pair->get(0)) : std::nullopt;
  std::optional<uint64_t> end = pair->size() == 2 ? as_unsigned(pair->get(1)) : std::nullopt;
  if (!begin || !end) {
    throw LoadError(where + "\"data_offsets\" must be two non-negative integers [begin, end]");
  }
  if (*begin > *end || *end > data_size) {
    throw LoadError(where + "data_offsets [" + std::to_string(*begin) + "," + std::to_string(*end) +
                    "] out of range of the " + std::to_string(data_size) + "-byte data section");
  }
  const uint64_t expected_bytes = numel * element_size;
  if (*end - *begin != expected_bytes) {
    throw LoadError(where + "data_offsets span " + std::to_string(*end - *begin) +
                    " bytes but shape " + shape_string(parsed.view.shape) + " of " +
                    dtype_name(parsed.view.dtype) + " needs " + std::to_string(expected_bytes));
  }
  parsed.begin = *begin;
  parsed.end = *end;
  parsed.view.nbytes = static_cast<size_t>(expected_bytes);
  return parsed;
}

std::map<std::string, std::string> parse_metadata(const std::string& path,
                                                  const Poco::Dynamic::Var& value) {
  if (!is_object(value)) throw LoadError(path + ": \"__metadata__\" is not a JSON object");
  std::map<std::string, std::string> metadata;
  const Poco::JSON::Object::Ptr object = value.extract<Poco::JSON::Object::Ptr>();
  for (const auto& [key, entry] : *object) {
    if (!entry.isString()) {
      throw LoadError(path + ": \"__metadata__\" value of \"" + key + "\" is not a string");
    }
    metadata[key] = entry.toString();
  }
  return metadata;
}

// Offsets must tile the data section: sorted by begin, each tensor starts where the previous
// one ended, and the last ends at the data size.
void check_coverage(const std::string& path, std::vector<const ParsedTensor*> order,
                    uint64_t data_size) {
  std::sort(order.begin(), order.end(), [](const ParsedTensor* a, const ParsedTensor* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const ParsedTensor* previous = nullptr;
  for (const ParsedTensor* tensor : order) {
    if (tensor->begin < covered) {
      throw LoadError(path + ": tensor " + tensor->view.name + ": data_offsets [" +
                      std::to_string(tensor->begin) + "," + std::to_string(tensor->end) +
                      "] overlap tensor " + previous->view.name + " [" +
                      std::to_string(previous->begin) + "," + std::to_string(previous->end) + "]");
    }
    if (tensor->begin > covered) {
      throw LoadError(path + ": tensor " + tensor->view.name + ": bytes [" +
                      std::to_string(covered) + "," + std::to_string(tensor->begin) +
                      ") of the data section before it belong to no tensor");
    }
    covered = tensor->end;
    previous = tensor;
  }
  if (covered != data_size) {
    throw LoadError(path + ": bytes [" + std::to_string(covered) + "," + std::to_string(data_size) +
                    ") at the end of the data section belong to no " + "tensor" +
                    (previous ? " (last tensor: " + previous->view.name + ")" : ""));
  }
}

}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<const FileMapping> mapping = map_file(path);
  std::shared_ptr<SafetensorsFile> file =
      from_bytes(mapping, mapping->bytes(), mapping->length(), path);
  for (auto& [name, view] : file->tensors_) view.file = mapping.get();
  return file;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::from_bytes(std::shared_ptr<const void> owner,
                                                             const unsigned char* bytes,
                                                             size_t file_size,
                                                             const std::string& path) {
  if (file_size < kLengthPrefixBytes) {
    throw LoadError(path + ": truncated: " + std::to_string(file_size) +
                    " bytes, too short for the 8-byte header length");
  }
  const uint64_t header_size = read_u64_le(bytes);
  if (header_size > kMaxHeaderBytes) {
    throw LoadError(path + ": header length " + std::to_string(header_size) +
                    " exceeds the 100000000-byte limit (not a safetensors file?)");
  }
  if (header_size > file_size - kLengthPrefixBytes) {
    throw LoadError(path + ": truncated: header length " + std::to_string(header_size) +
                    " runs past the end of the " + std::to_string(file_size) + "-byte file");
  }
  const unsigned char* header_bytes = bytes + kLengthPrefixBytes;
  if (header_size == 0 || header_bytes[0] != '{') {
    throw LoadError(path + ": header does not start with '{' (not a safetensors file?)");
  }
  if (!is_valid_utf8(header_bytes, header_size)) {
    throw LoadError(path + ": header is not valid UTF-8");
  }

  Poco::JSON::Object::Ptr header;
  try {
    Poco::JSON::Parser parser(new RepeatedKeyRejectingHandler);
    Poco::Dynamic::Var root =
        parser.parse(std::string(reinterpret_cast<const char*>(header_bytes), header_size));
    if (!is_object(root)) throw LoadError(path + ": header is not a JSON object");
    header = root.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& error) {
    throw LoadError(path + ": header is not valid JSON: " + error.displayText());
  }

  auto file = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  file->path_ = path;
  file->data_size_ = file_size - kLengthPrefixBytes - static_cast<size_t>(header_size);

  std::vector<ParsedTensor> parsed;
  parsed.reserve(header->size());
  try {
    for (const auto& [key, value] : *header) {
      if (key == "__metadata__") {
        file->metadata_ = parse_metadata(path, value);
      } else {
        parsed.push_back(parse_tensor_entry(path, key, value, file->data_size_));
      }
    }
  } catch (const Poco::Exception& error) {
    throw LoadError(path + ": malformed header: " + error.displayText());
  }

  std::vector<const ParsedTensor*> order;
  for (const ParsedTensor& tensor : parsed) order.push_back(&tensor);
  check_coverage(path, order, file->data_size_);

  const unsigned char* data = header_bytes + header_size;
  for (ParsedTensor& tensor : parsed) {
    tensor.view.data = data + tensor.begin;
    tensor.view.owner = owner;
    std::string name = tensor.view.name;
    file->tensors_.emplace(std::move(name), std::move(tensor.view));
  }
  return file;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const auto& entry : tensors_) names.push_back(entry.first);
  return names;
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorView& SafetensorsFile::get(const std::string& name) const {
  const TensorView* view = find(name);
  if (view == nullptr) throw LoadError(path_ + ": tensor " + name + " not found");
  return *view;
}

}  // namespace flx::flux
