// Fuzzes FLUX.1's T5 tokenizer (added tokens, the non-legacy prefix handling, SentencePiece)
// with the real spiece.model from ../shared/golden (or $FLX_FUZZ_T5_TOKENIZER_DIR): any bytes
// give exactly max_length ids with EOS inside, or the documented invalid_argument.
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_support.h"
#include "io/t5_tokenizer.h"

using flx::fuzz::Check;

namespace {
std::unique_ptr<flx::flux::T5Tokenizer> tokenizer;
constexpr size_t kMaxLength = 256;  // FLUX.1 schnell's max_sequence_length
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string dir = flx::fuzz::TokenizerDir("FLX_FUZZ_T5_TOKENIZER_DIR", "tokenizer_2");
  tokenizer = std::make_unique<flx::flux::T5Tokenizer>(flx::flux::T5Tokenizer::load(dir));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<int32_t> ids = tokenizer->encode(text, kMaxLength);
  Check(ids.size() == kMaxLength, "encode() length");
  bool has_eos = false;
  for (int32_t id : ids) {
    Check(id >= 0, "negative id");
    has_eos = has_eos || id == tokenizer->eos_id();
  }
  Check(has_eos, "encode() dropped EOS");
  return 0;
}
