// clip_tokenizer.h — FLUX.1's first text tokenizer: byte-level BPE with "</w>" word ends,
// reproducing transformers' slow CLIPTokenizer (4.48) token for token.
//
// Text preparation follows CLIPTokenizer's path for when the `ftfy` package is absent, which
// is what a plain diffusers install (and the golden reference) runs: BasicTokenizer with
// strip_accents=False and no punctuation splitting, i.e. drop NUL, U+FFFD and control/format/
// unassigned characters, turn whitespace into spaces, put spaces around CJK ideographs, NFC,
// split on whitespace and lowercase. (With ftfy, CLIPTokenizer would instead run ftfy.fix_text,
// which also straightens curly quotes and repairs mojibake, so such inputs could differ.)
// The words are then cut by CLIP's pattern
//   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// (case-insensitive), and each piece's UTF-8 bytes are BPE-merged.
#ifndef FLX_FLUX_IO_CLIP_TOKENIZER_H_
#define FLX_FLUX_IO_CLIP_TOKENIZER_H_

#include <cstdint>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/added_tokens.h"

namespace flx::flux {

class ClipTokenizer {
 public:
  // The sequence length FLUX.1's CLIP text encoder takes (its max_position_embeddings).
  static constexpr size_t kDefaultMaxLength = 77;

  // Reads `dir`/vocab.json and `dir`/merges.txt, and `dir`/tokenizer_config.json when present
  // (added tokens, bos/eos/pad/unk names; defaults are CLIP's <|startoftext|> and
  // <|endoftext|>). Throws LoadError naming the file at fault.
  static ClipTokenizer load(const std::string& dir);

  // The tokens of `text` without BOS/EOS, as CLIPTokenizer.tokenize() returns them, or their
  // first `max_tokens` and perhaps a few more: tokenization stops once it has that many, so
  // a 32000-character prompt costs no more than the 77 tokens the encoder reads.
  std::vector<std::string> tokenize(const std::string& text,
                                    size_t max_tokens = std::numeric_limits<size_t>::max()) const;
  // The ids of tokenize(text, max_tokens); tokens outside the vocabulary become the
  // unknown-token id.
  std::vector<int32_t> token_ids(const std::string& text,
                                 size_t max_tokens = std::numeric_limits<size_t>::max()) const;
  // What FluxPipeline feeds the text encoder: BOS, the first max_length - 2 ids of `text`,
  // EOS, then the pad id up to exactly `max_length` ids. Throws std::invalid_argument when
  // max_length < 2.
  std::vector<int32_t> encode(const std::string& text, size_t max_length = kDefaultMaxLength) const;

  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t pad_id() const { return pad_id_; }
  size_t vocab_size() const { return vocab_.size(); }

 private:
  ClipTokenizer() = default;
  // Appends the BPE symbols of one pattern match, given as UTF-8.
  void append_bpe(const std::string& piece, std::vector<std::string>& out) const;
  // Appends the tokens of `text` (no added tokens in it) until `out` holds max_tokens.
  void tokenize_text(const std::string& text, size_t max_tokens,
                     std::vector<std::string>& out) const;
  int32_t id_of(const std::string& name, const std::string& source) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<std::string, int> merge_ranks_;  // "left right" -> rank
  AddedTokens added_tokens_;
  int32_t bos_id_ = 0;
  int32_t eos_id_ = 0;
  int32_t pad_id_ = 0;
  int32_t unk_id_ = 0;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_CLIP_TOKENIZER_H_
