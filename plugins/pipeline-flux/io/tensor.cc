#include "io/tensor.h"

#include <cstring>

namespace flx::flux {
namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  int64_t block_elements;
  size_t block_bytes;
  bool in_safetensors;  // a dtype name the safetensors format defines
  bool quantized;
};

// Block sizes: ggml's ggml-common.h (QK4_0 = QK8_0 = 32, QK_K = 256) and the block structs
// described in io/ggml_blocks.h.
constexpr DTypeInfo kDTypes[] = {
    {DType::F32, "F32", 1, 4, true, false},       {DType::F16, "F16", 1, 2, true, false},
    {DType::BF16, "BF16", 1, 2, true, false},     {DType::F64, "F64", 1, 8, true, false},
    {DType::I64, "I64", 1, 8, true, false},       {DType::I32, "I32", 1, 4, true, false},
    {DType::I16, "I16", 1, 2, true, false},       {DType::I8, "I8", 1, 1, true, false},
    {DType::U8, "U8", 1, 1, true, false},         {DType::BOOL, "BOOL", 1, 1, true, false},
    {DType::F8_E4M3, "F8_E4M3", 1, 1, true, true}, {DType::F8_E5M2, "F8_E5M2", 1, 1, true, true},
    {DType::Q4_0, "Q4_0", 32, 18, false, true},   {DType::Q4_1, "Q4_1", 32, 20, false, true},
    {DType::Q5_0, "Q5_0", 32, 22, false, true},   {DType::Q5_1, "Q5_1", 32, 24, false, true},
    {DType::Q8_0, "Q8_0", 32, 34, false, true},   {DType::Q2_K, "Q2_K", 256, 84, false, true},
    {DType::Q3_K, "Q3_K", 256, 110, false, true}, {DType::Q4_K, "Q4_K", 256, 144, false, true},
    {DType::Q5_K, "Q5_K", 256, 176, false, true}, {DType::Q6_K, "Q6_K", 256, 210, false, true},
};

const DTypeInfo& info(DType dtype) {
  for (const DTypeInfo& entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  throw std::logic_error("flx::flux: DType value outside the enum");
}

}  // namespace

const char* dtype_name(DType dtype) { return info(dtype).name; }

size_t dtype_size(DType dtype) {
  const DTypeInfo& entry = info(dtype);
  if (entry.block_elements != 1) {
    throw std::logic_error(std::string("flx::flux: dtype_size() of block type ") + entry.name);
  }
  return entry.block_bytes;
}

std::optional<DType> parse_dtype(const std::string& name) {
  for (const DTypeInfo& entry : kDTypes) {
    if (entry.in_safetensors && name == entry.name) return entry.dtype;
  }
  return std::nullopt;
}

DTypeLayout dtype_layout(DType dtype) {
  const DTypeInfo& entry = info(dtype);
  return DTypeLayout{entry.block_elements, entry.block_bytes};
}

bool is_quantized(DType dtype) { return info(dtype).quantized; }

std::optional<uint64_t> tensor_bytes(DType dtype, const std::vector<int64_t>& shape) {
  const DTypeLayout layout = dtype_layout(dtype);
  const int64_t row = shape.empty() ? 1 : shape.back();
  if (row < 0 || row % layout.block_elements != 0) return std::nullopt;
  uint64_t bytes = static_cast<uint64_t>(row / layout.block_elements) * layout.block_bytes;
  for (size_t i = 0; i + 1 < shape.size(); ++i) {
    if (shape[i] < 0) return std::nullopt;
    const uint64_t dim = static_cast<uint64_t>(shape[i]);
    if (dim != 0 && bytes > UINT64_MAX / dim) return std::nullopt;
    bytes *= dim;
  }
  return bytes;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

int64_t TensorView::numel() const {
  // A zero dimension makes the count 0 whatever the others are, and a file may declare huge
  // ones beside it ([0, 2^40, 2^40] holds no bytes): multiplying first would overflow.
  for (int64_t dim : shape) {
    if (dim == 0) return 0;
  }
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

TensorView make_owned_tensor(std::string name, DType dtype, std::vector<int64_t> shape,
                             const void* bytes, size_t nbytes) {
  TensorView view;
  view.name = std::move(name);
  view.dtype = dtype;
  view.shape = std::move(shape);
  if (tensor_bytes(dtype, view.shape) != std::optional<uint64_t>(nbytes)) {
    throw LoadError("tensor " + view.name + ": " + std::to_string(nbytes) +
                    " bytes do not match shape " + shape_string(view.shape) + " of " +
                    dtype_name(dtype));
  }
  std::shared_ptr<unsigned char[]> buffer(new unsigned char[nbytes > 0 ? nbytes : 1]);
  if (nbytes > 0) std::memcpy(buffer.get(), bytes, nbytes);
  view.data = buffer.get();
  view.nbytes = nbytes;
  view.owner = std::shared_ptr<const void>(buffer, buffer.get());
  return view;
}

TensorView slice_rows(const TensorView& view, int64_t first, int64_t count, std::string name) {
  if (view.shape.empty() || first < 0 || count < 0 || first + count > view.shape[0]) {
    throw LoadError("tensor " + view.name + " with shape " + shape_string(view.shape) +
                    " has no rows [" + std::to_string(first) + "," + std::to_string(first + count) +
                    ")");
  }
  const size_t row_bytes =
      view.shape[0] == 0 ? 0 : view.nbytes / static_cast<size_t>(view.shape[0]);
  TensorView rows = view;
  rows.name = std::move(name);
  rows.shape[0] = count;
  rows.data = static_cast<const unsigned char*>(view.data) + static_cast<size_t>(first) * row_bytes;
  rows.nbytes = static_cast<size_t>(count) * row_bytes;
  return rows;
}

TensorView reshape(const TensorView& view, std::vector<int64_t> shape, std::string name) {
  TensorView reshaped = view;
  reshaped.name = std::move(name);
  reshaped.shape = std::move(shape);
  if (reshaped.numel() != view.numel() ||
      tensor_bytes(view.dtype, reshaped.shape) != std::optional<uint64_t>(view.nbytes)) {
    throw LoadError("tensor " + view.name + " with shape " + shape_string(view.shape) +
                    " cannot be viewed as " + shape_string(reshaped.shape));
  }
  return reshaped;
}

}  // namespace flx::flux
