// Fuzzes FLUX.1's CLIP tokenizer (text cleanup, Unicode tables, the word pattern, BPE) with the
// real vocabulary from ../shared/golden (or $FLX_FUZZ_CLIP_TOKENIZER_DIR): any bytes, valid
// UTF-8 or not, give exactly max_length ids framed by BOS/EOS, all inside the vocabulary.
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_support.h"
#include "io/clip_tokenizer.h"

using flx::fuzz::Check;

namespace {
std::unique_ptr<flx::flux::ClipTokenizer> tokenizer;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string dir = flx::fuzz::TokenizerDir("FLX_FUZZ_CLIP_TOKENIZER_DIR", "tokenizer");
  tokenizer = std::make_unique<flx::flux::ClipTokenizer>(flx::flux::ClipTokenizer::load(dir));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<int32_t> ids = tokenizer->encode(text);
  Check(ids.size() == flx::flux::ClipTokenizer::kDefaultMaxLength, "encode() length");
  Check(ids.front() == tokenizer->bos_id(), "encode() does not start with BOS");
  for (int32_t id : ids) {
    Check(id >= 0 && size_t(id) < tokenizer->vocab_size(), "id outside the vocabulary");
  }
  return 0;
}
