#include "io/clip_tokenizer.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <array>
#include <cctype>
#include <limits>
#include <stdexcept>

#include "io/files.h"
#include "io/tensor.h"
#include "io/tokenizer_config.h"
#include "io/unicode.h"

namespace flx::flux {
namespace {

using unicode::is_letter;
using unicode::is_number;
using unicode::is_python_space;

const std::string kStartOfText = "<|startoftext|>";
const std::string kEndOfText = "<|endoftext|>";

// CLIPTokenizer keeps merges.txt lines 1 .. 49152 - 256 - 2 (line 0 is the "#version" header).
constexpr size_t kMergeLimit = 49152 - 256 - 2;

// GPT-2's reversible byte -> printable character table: printable Latin-1 bytes map to
// themselves, the others to U+0100 onwards, so no BPE symbol is whitespace or a control.
const std::array<std::string, 256>& byte_symbols() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> symbols;
    char32_t next_unprintable = 256;
    for (int byte = 0; byte < 256; ++byte) {
      const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
                             (byte >= 0xAE && byte <= 0xFF);
      symbols[byte] =
          unicode::encode_utf8(printable ? static_cast<char32_t>(byte) : next_unprintable++);
    }
    return symbols;
  }();
  return table;
}

bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// BasicTokenizer(strip_accents=False, do_split_on_punc=False).tokenize(text), joined by spaces.
std::u32string basic_clean(const std::u32string& text) {
  std::u32string cleaned;
  for (char32_t c : text) {
    const bool kept_whitespace = c == '\t' || c == '\n' || c == '\r';
    if (c == 0 || c == 0xFFFD || (unicode::is_other(c) && !kept_whitespace)) continue;
    if (c == ' ' || kept_whitespace || unicode::is_space_separator(c)) {
      cleaned += ' ';
    } else if (is_cjk_ideograph(c)) {
      cleaned += U' ';
      cleaned += c;
      cleaned += U' ';
    } else {
      cleaned += c;
    }
  }
  const std::u32string normalized = unicode::nfc(cleaned);
  std::u32string joined;
  size_t i = 0;
  while (i < normalized.size()) {
    while (i < normalized.size() && is_python_space(normalized[i])) ++i;
    size_t end = i;
    while (end < normalized.size() && !is_python_space(normalized[end])) ++end;
    if (end > i) {
      if (!joined.empty()) joined += U' ';
      joined += unicode::to_lower(normalized.substr(i, end - i));
    }
    i = end;
  }
  return joined;
}

// Case-insensitive comparison as the `regex` module's IGNORECASE does it for CLIP's literal
// alternatives: ASCII case, plus U+017F LONG S, which simple case folding equates with 's'.
char32_t fold(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c == 0x17F) return 's';
  return c;
}

bool matches_literal(const std::u32string& text, size_t at, const char* literal) {
  for (size_t k = 0; literal[k] != '\0'; ++k) {
    if (at + k >= text.size() || fold(text[at + k]) != static_cast<char32_t>(literal[k])) {
      return false;
    }
  }
  return true;
}

// Length of the match of CLIP's pattern at `at`, or 0 when none starts there (whitespace).
size_t match_length(const std::u32string& text, size_t at) {
  for (const char* literal :
       {"<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}) {
    if (matches_literal(text, at, literal)) return std::char_traits<char>::length(literal);
  }
  size_t end = at;
  if (is_letter(text[at])) {
    while (end < text.size() && is_letter(text[end])) ++end;
    return end - at;
  }
  if (is_number(text[at])) return 1;
  while (end < text.size() && !is_python_space(text[end]) && !is_letter(text[end]) &&
         !is_number(text[end])) {
    ++end;
  }
  return end - at;
}

std::string trim_ascii(const std::string& text) {
  const char* space = " \t\r\n\f\v";
  const size_t first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

std::vector<std::string> split_ascii_whitespace(const std::string& line) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t end = i;
    while (end < line.size() && !std::isspace(static_cast<unsigned char>(line[end]))) ++end;
    if (end > i) parts.push_back(line.substr(i, end - i));
    i = end;
  }
  return parts;
}

std::unordered_map<std::string, int32_t> read_vocab(const std::string& path) {
  std::unordered_map<std::string, int32_t> vocab;
  try {
    Poco::JSON::Parser parser;
    const Poco::Dynamic::Var parsed = parser.parse(read_text_file(path));
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) {
      throw LoadError(path + ": not a JSON object of token -> id");
    }
    const Poco::JSON::Object::Ptr object = parsed.extract<Poco::JSON::Object::Ptr>();
    vocab.reserve(object->size());
    for (const auto& [token, id] : *object) {
      if (!id.isInteger() || id.isBoolean() || id.convert<int64_t>() < 0 ||
          id.convert<int64_t>() > std::numeric_limits<int32_t>::max()) {
        throw LoadError(path + ": id of token \"" + token + "\" is not a non-negative integer");
      }
      vocab[token] = id.convert<int32_t>();
    }
  } catch (const Poco::Exception& error) {
    throw LoadError(path + ": " + error.displayText());
  }
  if (vocab.empty()) throw LoadError(path + ": empty vocabulary");
  return vocab;
}

std::unordered_map<std::string, int> read_merges(const std::string& path) {
  const std::string content = trim_ascii(read_text_file(path));
  std::unordered_map<std::string, int> ranks;
  size_t line_start = 0;
  for (size_t line = 0; line <= kMergeLimit && line_start <= content.size(); ++line) {
    size_t line_end = content.find('\n', line_start);
    if (line_end == std::string::npos) line_end = content.size();
    if (line > 0) {
      const std::vector<std::string> pair =
          split_ascii_whitespace(content.substr(line_start, line_end - line_start));
      // Later duplicates win, as in CLIPTokenizer's dict(zip(merges, range(...))).
      if (pair.size() == 2) ranks[pair[0] + " " + pair[1]] = static_cast<int>(line - 1);
    }
    line_start = line_end + 1;
  }
  if (ranks.empty()) throw LoadError(path + ": no merges");
  return ranks;
}

}  // namespace

ClipTokenizer ClipTokenizer::load(const std::string& dir) {
  ClipTokenizer tokenizer;
  const std::string vocab_path = dir + "/vocab.json";
  tokenizer.vocab_ = read_vocab(vocab_path);
  tokenizer.merge_ranks_ = read_merges(dir + "/merges.txt");

  const std::string config_path = dir + "/tokenizer_config.json";
  TokenizerConfig config = read_tokenizer_config(config_path);
  auto name_of = [&](const char* key, const std::string& fallback) {
    auto it = config.special_tokens.find(key);
    return it == config.special_tokens.end() ? fallback : it->second;
  };
  const std::string bos = name_of("bos_token", kStartOfText);
  const std::string eos = name_of("eos_token", kEndOfText);
  const std::string pad = name_of("pad_token", kEndOfText);
  const std::string unk = name_of("unk_token", kEndOfText);

  // The special tokens are always matched verbatim, whether or not the config lists them.
  std::vector<AddedToken> added =
      config.added_tokens ? config.added_tokens->tokens() : std::vector<AddedToken>{};
  for (const std::string& special : {bos, eos, pad, unk}) {
    bool listed = false;
    for (const AddedToken& token : added) listed = listed || token.content == special;
    if (listed) continue;
    auto in_vocab = tokenizer.vocab_.find(special);
    if (in_vocab == tokenizer.vocab_.end()) {
      throw LoadError(vocab_path + ": special token \"" + special + "\" is not in the vocabulary");
    }
    AddedToken token;
    token.content = special;
    token.id = in_vocab->second;
    token.special = true;
    added.push_back(token);
  }
  tokenizer.added_tokens_ = AddedTokens(std::move(added), config_path);
  tokenizer.bos_id_ = tokenizer.id_of(bos, config_path);
  tokenizer.eos_id_ = tokenizer.id_of(eos, config_path);
  tokenizer.pad_id_ = tokenizer.id_of(pad, config_path);
  tokenizer.unk_id_ = tokenizer.id_of(unk, config_path);
  return tokenizer;
}

int32_t ClipTokenizer::id_of(const std::string& name, const std::string& source) const {
  if (const AddedToken* token = added_tokens_.find(name)) return token->id;
  auto it = vocab_.find(name);
  if (it == vocab_.end()) throw LoadError(source + ": token \"" + name + "\" has no id");
  return it->second;
}

void ClipTokenizer::append_bpe(const std::string& piece, std::vector<std::string>& out) const {
  if (piece == kStartOfText || piece == kEndOfText) {  // CLIPTokenizer's pre-seeded BPE cache
    out.push_back(piece);
    return;
  }
  std::vector<std::string> word;
  for (unsigned char byte : piece) word.push_back(byte_symbols()[byte]);
  word.back() += "</w>";
  while (word.size() > 1) {
    int best_rank = std::numeric_limits<int>::max();
    size_t best = 0;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      auto it = merge_ranks_.find(word[i] + " " + word[i + 1]);
      if (it != merge_ranks_.end() && it->second < best_rank) {
        best_rank = it->second;
        best = i;
      }
    }
    if (best_rank == std::numeric_limits<int>::max()) break;
    const std::string first = word[best];
    const std::string second = word[best + 1];
    std::vector<std::string> merged;
    for (size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
        merged.push_back(first + second);
        i += 2;
      } else {
        merged.push_back(word[i]);
        ++i;
      }
    }
    word = std::move(merged);
  }
  out.insert(out.end(), word.begin(), word.end());
}

void ClipTokenizer::tokenize_text(const std::string& text, size_t max_tokens,
                                  std::vector<std::string>& out) const {
  const std::u32string cleaned = basic_clean(unicode::decode_utf8(text));
  for (size_t i = 0; i < cleaned.size() && out.size() < max_tokens;) {
    const size_t length = match_length(cleaned, i);
    if (length == 0) {
      ++i;
      continue;
    }
    append_bpe(unicode::encode_utf8(cleaned.substr(i, length)), out);
    i += length;
  }
}

std::vector<std::string> ClipTokenizer::tokenize(const std::string& text, size_t max_tokens) const {
  std::vector<std::string> tokens;
  for (const AddedTokens::Piece& piece : added_tokens_.split(text)) {
    if (tokens.size() >= max_tokens) break;
    if (piece.token != nullptr) {
      tokens.push_back(piece.token->content);
    } else {
      tokenize_text(piece.text, max_tokens, tokens);
    }
  }
  return tokens;
}

std::vector<int32_t> ClipTokenizer::token_ids(const std::string& text, size_t max_tokens) const {
  std::vector<int32_t> ids;
  for (const std::string& token : tokenize(text, max_tokens)) {
    if (const AddedToken* added = added_tokens_.find(token)) {
      ids.push_back(added->id);
      continue;
    }
    auto it = vocab_.find(token);
    ids.push_back(it == vocab_.end() ? unk_id_ : it->second);
  }
  return ids;
}

std::vector<int32_t> ClipTokenizer::encode(const std::string& text, size_t max_length) const {
  if (max_length < 2)
    throw std::invalid_argument("CLIP max_length must leave room for BOS and EOS");
  std::vector<int32_t> ids = token_ids(text, max_length - 2);
  if (ids.size() > max_length - 2) ids.resize(max_length - 2);
  std::vector<int32_t> sequence;
  sequence.reserve(max_length);
  sequence.push_back(bos_id_);
  sequence.insert(sequence.end(), ids.begin(), ids.end());
  sequence.push_back(eos_id_);
  sequence.resize(max_length, pad_id_);
  return sequence;
}

}  // namespace flx::flux
