// Fuzzes the safetensors reader (length prefix, JSON header, offsets): any bytes either give a
// file whose every tensor view lies inside the input and tiles the data section, or a
// LoadError naming the file; nothing else escapes, nothing reads out of bounds.
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_support.h"
#include "io/safetensors.h"

using flx::fuzz::Check;

namespace {

// Touches every byte of every view so ASan sees any view that strays outside the input.
void CheckViews(const flx::flux::SafetensorsFile& file, const uint8_t* data, size_t size) {
  size_t total = 0;
  unsigned checksum = 0;
  for (const std::string& name : file.names()) {
    const flx::flux::TensorView& view = file.get(name);
    const auto* bytes = static_cast<const uint8_t*>(view.data);
    Check(view.nbytes == 0 || (bytes >= data && bytes + view.nbytes <= data + size),
          "tensor " + name + " lies outside the input");
    for (size_t i = 0; i < view.nbytes; ++i) checksum += bytes[i];
    total += view.nbytes;
  }
  Check(total == file.data_size(), "tensors do not cover the data section exactly");
  // Keeps the loop from being optimised away.
  if (checksum == 0xFFFFFFFFu) std::fprintf(stderr, "%u\n", checksum);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The views share ownership of the bytes; the fuzzer's buffer outlives this call's file.
  std::shared_ptr<const void> borrowed(data, [](const void*) {});
  try {
    auto file = flx::flux::SafetensorsFile::from_bytes(borrowed, data, size, "fuzz.safetensors");
    CheckViews(*file, data, size);
  } catch (const flx::flux::LoadError& error) {
    Check(std::string(error.what()).rfind("fuzz.safetensors", 0) == 0,
          std::string("an error that does not name the file: ") + error.what());
  }
  return 0;
}
