// t5_tokenizer.h — FLUX.1's second text tokenizer: SentencePiece unigram (libsentencepiece),
// driven the way transformers' slow T5Tokenizer (4.48) drives it.
//
// With "legacy": false (FLUX.1's setting) transformers loads spiece.model with
// add_dummy_prefix turned off, turns "▁" in the text into spaces, prefixes the text with "▁"
// (add_prefix_space, default true), cuts it at added tokens (</s>, <pad>, <unk>,
// <extra_id_N>, the latter swallowing the whitespace around them), and encodes each piece that
// starts with "▁" or a space as "<unk>" + piece minus the pieces of "<unk>" (so that leading
// "▁" survives), any other piece as is. A lone leading "▁" before a special token is dropped.
// With "legacy" true or absent, each piece is simply encoded with the model as stored.
#ifndef FLX_FLUX_IO_T5_TOKENIZER_H_
#define FLX_FLUX_IO_T5_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/added_tokens.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace flx::flux {

class T5Tokenizer {
 public:
  // Reads `dir`/spiece.model and, when present, `dir`/tokenizer_config.json (added tokens,
  // eos/pad/unk names, legacy, add_prefix_space). Without a config the T5 defaults apply:
  // <pad> 0, </s> 1, <unk> 2, <extra_id_N> = model size + 99 - N, legacy tokenization.
  // Throws LoadError naming the file at fault.
  static T5Tokenizer load(const std::string& dir);

  // The SentencePiece pieces and added tokens of `text`, as T5Tokenizer.tokenize() returns them.
  std::vector<std::string> tokenize(const std::string& text) const;
  // The ids of tokenize(text), without EOS.
  std::vector<int32_t> token_ids(const std::string& text) const;
  // What FluxPipeline feeds the T5 encoder (tokenizer_2(text, padding="max_length",
  // max_length, truncation=True)): the first max_length - 1 ids, EOS appended unless the last
  // kept id already is EOS, then the pad id up to exactly `max_length` ids. Throws
  // std::invalid_argument when max_length is 0.
  std::vector<int32_t> encode(const std::string& text, size_t max_length) const;

  int32_t eos_id() const { return eos_id_; }
  int32_t pad_id() const { return pad_id_; }

 private:
  T5Tokenizer() = default;
  std::vector<std::string> encode_pieces(const std::string& text) const;
  std::vector<std::string> tokenize_piece(const std::string& piece) const;

  std::shared_ptr<const sentencepiece::SentencePieceProcessor> model_;
  AddedTokens added_tokens_;
  std::string unk_token_;
  size_t unk_token_pieces_ = 0;
  bool legacy_ = true;
  bool add_prefix_space_ = true;
  int32_t eos_id_ = 1;
  int32_t pad_id_ = 0;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_T5_TOKENIZER_H_
