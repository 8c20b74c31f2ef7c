#include "prompt_tokenizers.h"

#include <utility>

namespace flx::flux {
namespace {

std::vector<int64_t> widen(const std::vector<int32_t>& ids) {
  return std::vector<int64_t>(ids.begin(), ids.end());
}

}  // namespace

PromptTokenizers PromptTokenizers::load(const std::string& tokenizer_dir,
                                        const std::string& tokenizer_2_dir,
                                        const std::string& module_dir) {
  return PromptTokenizers(ClipTokenizer::load(tokenizer_dir),
                          IsolatedT5Tokenizer::load(tokenizer_2_dir, module_dir));
}

PromptIds PromptTokenizers::encode(const std::string& prompt, const std::string& prompt_2,
                                   size_t clip_length, size_t t5_length) const {
  return PromptIds{widen(clip_.encode(prompt, clip_length)),
                   widen(t5_.encode(prompt_2, t5_length))};
}

}  // namespace flx::flux
