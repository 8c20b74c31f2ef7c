// added_tokens.h — the special tokens a Hugging Face tokenizer matches verbatim in the input
// before its model sees the text (CLIP's <|startoftext|>, T5's </s> and <extra_id_N>), and the
// way transformers' slow PreTrainedTokenizer.tokenize() cuts text around them.
#ifndef FLX_FLUX_IO_ADDED_TOKENS_H_
#define FLX_FLUX_IO_ADDED_TOKENS_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace flx::flux {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool lstrip = false;  // swallows the whitespace on its left
  bool rstrip = false;  // swallows the whitespace on its right
  bool special = false;
};

class AddedTokens {
 public:
  AddedTokens() = default;
  // Throws LoadError (naming `source`) for an empty or repeated content.
  AddedTokens(std::vector<AddedToken> tokens, const std::string& source);

  // The token whose content is exactly `content`, or nullptr.
  const AddedToken* find(const std::string& content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

  // One piece of cut text: an added token, or text for the tokenizer model.
  struct Piece {
    std::string text;
    const AddedToken* token = nullptr;
  };
  // Cuts `text` at every added token (leftmost, longest match first), then lets tokens with
  // lstrip / rstrip remove the Python-whitespace at the adjoining end of their neighbours, in
  // order from left to right; pieces left empty are dropped. This is PreTrainedTokenizer
  // .tokenize() with split_special_tokens=False.
  std::vector<Piece> split(const std::string& text) const;

 private:
  std::vector<AddedToken> tokens_;
  std::map<std::string, size_t> by_content_;
  // Indexes into tokens_ by their first byte: split() compares only these at each position.
  std::array<std::vector<size_t>, 256> by_first_byte_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_ADDED_TOKENS_H_
