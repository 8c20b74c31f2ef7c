// clip_bpe_trainer.h — learns a byte-level BPE vocabulary in the layout of CLIP's
// (openai/CLIP bpe_simple_vocab), so that io's ClipTokenizer reads it like FLUX.1's.
//
// Layout of the learned vocabulary, by id:
//   0 .. 255    the 256 byte symbols (GPT-2's bytes_to_unicode: printable Latin-1 bytes as
//               themselves, then the other bytes as U+0100 onwards), in that table's order;
//   256 .. 511  the same symbols followed by "</w>" (a symbol that ends a word);
//   512 ..      one symbol per merge, in merge order (a merge whose result is already in the
//               vocabulary adds no new id);
//   last two    "<|startoftext|>" and "<|endoftext|>".
//
// Training follows Sennrich et al.: words are cut the way CLIPTokenizer cuts them (lowercase,
// whitespace, then contractions, letter runs, single digits and runs of other characters),
// spelled as byte symbols with "</w>" on the last one, and the most frequent adjacent pair
// (ties: the lexicographically smallest pair) is merged until `max_merges` merges were made or
// no pair occurs twice.
#ifndef FLX_FLUX_TOOLS_CLIP_BPE_TRAINER_H_
#define FLX_FLUX_TOOLS_CLIP_BPE_TRAINER_H_

#include <array>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace flx::flux::demo {

struct BpeVocabulary {
  std::vector<std::string> tokens;                          // index = token id
  std::vector<std::pair<std::string, std::string>> merges;  // index = merge rank
};

// The 256 byte symbols as UTF-8, indexed by byte value.
const std::array<std::string, 256>& clip_byte_symbols();

// The words CLIPTokenizer would cut `text` into. Only ASCII text is accepted (the corpus is
// ours); throws std::invalid_argument on any other byte.
std::vector<std::string> clip_words(const std::string& text);

// Learns the vocabulary from `sentences` as described above.
BpeVocabulary learn_clip_bpe(const std::vector<std::string>& sentences, size_t max_merges);

// vocab.json (token -> id) and merges.txt ("#version: 0.2" header, one "left right" per line)
// as CLIPTokenizer reads them.
std::string vocab_json(const BpeVocabulary& vocabulary);
std::string merges_txt(const BpeVocabulary& vocabulary);

}  // namespace flx::flux::demo

#endif  // FLX_FLUX_TOOLS_CLIP_BPE_TRAINER_H_
