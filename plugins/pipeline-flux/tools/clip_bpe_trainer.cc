#include "clip_bpe_trainer.h"

#include <cctype>
#include <map>
#include <set>
#include <stdexcept>

#include "json_text.h"

namespace flx::flux::demo {
namespace {

const char* const kWordEnd = "</w>";
const char* const kStartOfText = "<|startoftext|>";
const char* const kEndOfText = "<|endoftext|>";

bool is_printable_byte(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

std::string utf8(char32_t code_point) {
  std::string out;
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return out;
}

// The byte values in bytes_to_unicode()'s dictionary order: printable ones, then the rest.
std::vector<int> byte_order() {
  std::vector<int> order;
  for (int byte = 0; byte < 256; ++byte) {
    if (is_printable_byte(byte)) order.push_back(byte);
  }
  for (int byte = 0; byte < 256; ++byte) {
    if (!is_printable_byte(byte)) order.push_back(byte);
  }
  return order;
}

bool is_letter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// The length of the contraction ('s, 't, 're, 've, 'm, 'll, 'd) at `pos`, or 0.
size_t contraction_length(const std::string& text, size_t pos) {
  if (text[pos] != '\'') return 0;
  for (const char* suffix : {"s", "t", "re", "ve", "m", "ll", "d"}) {
    const std::string candidate = std::string("'") + suffix;
    if (text.compare(pos, candidate.size(), candidate) == 0) return candidate.size();
  }
  return 0;
}

using Symbols = std::vector<std::string>;
using Pair = std::pair<std::string, std::string>;

struct Word {
  Symbols symbols;
  long count = 0;
};

Symbols spell(const std::string& word) {
  Symbols symbols;
  for (const char c : word) symbols.push_back(clip_byte_symbols()[static_cast<unsigned char>(c)]);
  symbols.back() += kWordEnd;
  return symbols;
}

void apply_merge(const Pair& pair, Symbols& symbols) {
  Symbols merged;
  for (size_t i = 0; i < symbols.size(); ++i) {
    if (i + 1 < symbols.size() && symbols[i] == pair.first && symbols[i + 1] == pair.second) {
      merged.push_back(pair.first + pair.second);
      ++i;
    } else {
      merged.push_back(symbols[i]);
    }
  }
  symbols = std::move(merged);
}

}  // namespace

const std::array<std::string, 256>& clip_byte_symbols() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> symbols;
    char32_t next_unprintable = 256;
    for (int byte = 0; byte < 256; ++byte) {
      symbols[byte] =
          utf8(is_printable_byte(byte) ? static_cast<char32_t>(byte) : next_unprintable++);
    }
    return symbols;
  }();
  return table;
}

std::vector<std::string> clip_words(const std::string& text) {
  std::string lower;
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      throw std::invalid_argument("clip_words: only ASCII text is supported, got \"" + text + "\"");
    }
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::vector<std::string> words;
  size_t pos = 0;
  while (pos < lower.size()) {
    if (is_space(lower[pos])) {
      ++pos;
      continue;
    }
    size_t end = pos + contraction_length(lower, pos);
    if (end == pos && is_letter(lower[pos])) {
      while (end < lower.size() && is_letter(lower[end])) ++end;
    } else if (end == pos && is_digit(lower[pos])) {
      end = pos + 1;
    } else if (end == pos) {
      while (end < lower.size() && !is_space(lower[end]) && !is_letter(lower[end]) &&
             !is_digit(lower[end])) {
        ++end;
      }
    }
    words.push_back(lower.substr(pos, end - pos));
    pos = end;
  }
  return words;
}

BpeVocabulary learn_clip_bpe(const std::vector<std::string>& sentences, size_t max_merges) {
  std::map<std::string, long> word_counts;
  for (const std::string& sentence : sentences) {
    for (const std::string& word : clip_words(sentence)) ++word_counts[word];
  }
  std::vector<Word> words;
  for (const auto& [word, count] : word_counts) words.push_back({spell(word), count});

  BpeVocabulary vocabulary;
  for (const int byte : byte_order()) vocabulary.tokens.push_back(clip_byte_symbols()[byte]);
  for (size_t i = 0; i < 256; ++i) vocabulary.tokens.push_back(vocabulary.tokens[i] + kWordEnd);
  std::set<std::string> known(vocabulary.tokens.begin(), vocabulary.tokens.end());

  while (vocabulary.merges.size() < max_merges) {
    std::map<Pair, long> pair_counts;
    for (const Word& word : words) {
      for (size_t i = 0; i + 1 < word.symbols.size(); ++i) {
        pair_counts[{word.symbols[i], word.symbols[i + 1]}] += word.count;
      }
    }
    const Pair* best = nullptr;
    long best_count = 1;
    for (const auto& [pair, count] : pair_counts) {
      if (count > best_count) {
        best = &pair;
        best_count = count;
      }
    }
    if (best == nullptr) break;
    const Pair merge = *best;
    for (Word& word : words) apply_merge(merge, word.symbols);
    vocabulary.merges.push_back(merge);
    if (known.insert(merge.first + merge.second).second) {
      vocabulary.tokens.push_back(merge.first + merge.second);
    }
  }
  vocabulary.tokens.push_back(kStartOfText);
  vocabulary.tokens.push_back(kEndOfText);
  return vocabulary;
}

std::string vocab_json(const BpeVocabulary& vocabulary) {
  std::string out = "{";
  for (size_t id = 0; id < vocabulary.tokens.size(); ++id) {
    out += id == 0 ? "\n  " : ",\n  ";
    out += json_quote(vocabulary.tokens[id]) + ": " + std::to_string(id);
  }
  out += "\n}\n";
  return out;
}

std::string merges_txt(const BpeVocabulary& vocabulary) {
  std::string out = "#version: 0.2\n";
  for (const auto& [left, right] : vocabulary.merges) out += left + " " + right + "\n";
  return out;
}

}  // namespace flx::flux::demo
