// flx_flux_t5_tokenizer.so: io's T5Tokenizer behind the C interface of t5_tokenizer_module.h.
#include "t5_tokenizer_module.h"

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "io/t5_tokenizer.h"

struct flx_t5_tokenizer {
  flx::flux::T5Tokenizer tokenizer;
};

namespace {

void write_error(const char* message, char* error, size_t error_size) {
  if (error != nullptr && error_size > 0) std::snprintf(error, error_size, "%s", message);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) flx_t5_tokenizer* flx_t5_tokenizer_open(
    const char* dir, char* error, size_t error_size) {
  try {
    return new flx_t5_tokenizer{flx::flux::T5Tokenizer::load(dir)};
  } catch (const std::exception& e) {
    write_error(e.what(), error, error_size);
  } catch (...) {
    write_error("unknown exception while loading the T5 tokenizer", error, error_size);
  }
  return nullptr;
}

extern "C" __attribute__((visibility("default"))) int flx_t5_tokenizer_encode(
    const flx_t5_tokenizer* tokenizer, const char* text, size_t max_length, int32_t* ids,
    char* error, size_t error_size) {
  try {
    const std::vector<int32_t> encoded = tokenizer->tokenizer.encode(text, max_length);
    std::copy(encoded.begin(), encoded.end(), ids);
    return 0;
  } catch (const std::exception& e) {
    write_error(e.what(), error, error_size);
  } catch (...) {
    write_error("unknown exception while tokenizing", error, error_size);
  }
  return 1;
}

extern "C" __attribute__((visibility("default"))) void flx_t5_tokenizer_close(
    flx_t5_tokenizer* tokenizer) {
  delete tokenizer;
}
