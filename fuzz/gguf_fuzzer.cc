// Fuzzes the GGUF reader (header, metadata of every type, nested arrays, tensor infos,
// alignment): any bytes either give a file whose every tensor view lies inside the input and
// dequantizes without reading outside it, or a LoadError naming the file.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "io/dequantize.h"
#include "io/gguf.h"

using flx::fuzz::Check;

namespace {

// Dequantizes at most this many values per tensor: enough to reach every block decoder.
constexpr int64_t kMaxValues = 4096;

void CheckTensors(const flx::flux::GgufFile& file, const uint8_t* data, size_t size) {
  std::vector<float> values;
  for (const std::string& name : file.tensor_names()) {
    const flx::flux::TensorView* view = file.find(name);
    Check(view != nullptr, "a listed tensor cannot be found: " + name);
    const auto* bytes = static_cast<const uint8_t*>(view->data);
    Check(view->nbytes == 0 || (bytes >= data && bytes + view->nbytes <= data + size),
          "tensor " + name + " lies outside the input");
    Check(flx::flux::tensor_bytes(view->dtype, view->shape) == view->nbytes,
          "tensor " + name + " has a byte count that does not match its shape");
    if (!flx::flux::is_quantized(view->dtype) && view->dtype != flx::flux::DType::F32 &&
        view->dtype != flx::flux::DType::F16 && view->dtype != flx::flux::DType::BF16) {
      continue;
    }
    const int64_t row = view->shape.back();
    const int64_t rows_that_fit = row == 0 ? 0 : std::max<int64_t>(1, kMaxValues / row);
    const int64_t rows = std::min<int64_t>(view->numel() / std::max<int64_t>(row, 1), rows_that_fit);
    values.resize(static_cast<size_t>(rows * row));
    flx::flux::dequantize(view->dtype, view->data, rows * row, values.data());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<const void> borrowed(data, [](const void*) {});
  try {
    auto file = flx::flux::GgufFile::from_bytes(borrowed, data, size, "fuzz.gguf");
    CheckTensors(*file, data, size);
    for (const auto& [key, value] : file->metadata()) (void)value.describe();
  } catch (const flx::flux::LoadError& error) {
    Check(std::string(error.what()).rfind("fuzz.gguf", 0) == 0,
          std::string("an error that does not name the file: ") + error.what());
  }
  return 0;
}
