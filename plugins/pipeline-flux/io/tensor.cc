#include "io/tensor.h"

#include <cstring>

namespace flx::flux {
namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::F32, "F32", 4},   {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::F64, "F64", 8},   {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},   {DType::I8, "I8", 1},   {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1},
};

const DTypeInfo& info(DType dtype) {
  for (const DTypeInfo& entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  throw std::logic_error("flx::flux: DType value outside the enum");
}

}  // namespace

const char* dtype_name(DType dtype) { return info(dtype).name; }

size_t dtype_size(DType dtype) { return info(dtype).size; }

std::optional<DType> parse_dtype(const std::string& name) {
  for (const DTypeInfo& entry : kDTypes) {
    if (name == entry.name) return entry.dtype;
  }
  return std::nullopt;
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
  if (static_cast<size_t>(view.numel()) * dtype_size(dtype) != nbytes) {
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
  if (reshaped.numel() != view.numel()) {
    throw LoadError("tensor " + view.name + " with shape " + shape_string(view.shape) +
                    " cannot be viewed as " + shape_string(reshaped.shape));
  }
  return reshaped;
}

}  // namespace flx::flux
