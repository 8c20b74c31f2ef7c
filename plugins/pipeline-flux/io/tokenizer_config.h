// tokenizer_config.h — the parts of a Hugging Face tokenizer_config.json our tokenizers honour.
#ifndef FLX_FLUX_IO_TOKENIZER_CONFIG_H_
#define FLX_FLUX_IO_TOKENIZER_CONFIG_H_

#include <map>
#include <optional>
#include <string>

#include "io/added_tokens.h"

namespace flx::flux {

struct TokenizerConfig {
  // "added_tokens_decoder", when present.
  std::optional<AddedTokens> added_tokens;
  // "bos_token", "eos_token", "unk_token", "pad_token" (a string, or an object's "content").
  std::map<std::string, std::string> special_tokens;
  std::optional<bool> legacy;
  std::optional<bool> add_prefix_space;
};

// Reads `path`; a missing file gives an empty config (the tokenizer's defaults apply). Throws
// LoadError naming the file for invalid JSON, a malformed entry, or a token with
// "single_word": true (no FLUX tokenizer uses it, and its cutting rule is not implemented).
TokenizerConfig read_tokenizer_config(const std::string& path);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_TOKENIZER_CONFIG_H_
