// prompt_tokenizers.h — a checkpoint's two tokenizers (CLIP in tokenizer/, T5 in tokenizer_2/
// through the isolated module), turning prompts into the token ids FluxPipeline takes. Used by
// the flux stage and by `fluxserve bench`, so both tokenize exactly alike.
#ifndef FLX_FLUX_PLUGIN_PROMPT_TOKENIZERS_H_
#define FLX_FLUX_PLUGIN_PROMPT_TOKENIZERS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/clip_tokenizer.h"
#include "isolated_t5_tokenizer.h"

namespace flx::flux {

struct PromptIds {
  std::vector<int64_t> clip;  // padded to the CLIP length asked for
  std::vector<int64_t> t5;    // padded to the T5 length asked for
};

class PromptTokenizers {
 public:
  // Loads tokenizer/ and tokenizer_2/ under `tokenizer_dir` and `tokenizer_2_dir`; the T5
  // module comes from `module_dir` (see IsolatedT5Tokenizer::load). Throws LoadError naming
  // the file at fault.
  static PromptTokenizers load(const std::string& tokenizer_dir,
                               const std::string& tokenizer_2_dir,
                               const std::string& module_dir = "");

  // `prompt` through CLIP (clip_length ids) and `prompt_2` through T5 (t5_length ids).
  PromptIds encode(const std::string& prompt, const std::string& prompt_2, size_t clip_length,
                   size_t t5_length) const;

 private:
  PromptTokenizers(ClipTokenizer clip, IsolatedT5Tokenizer t5)
      : clip_(std::move(clip)), t5_(std::move(t5)) {}

  ClipTokenizer clip_;
  IsolatedT5Tokenizer t5_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_PROMPT_TOKENIZERS_H_
