#include "io/added_tokens.h"

#include "io/tensor.h"
#include "io/unicode.h"

namespace flx::flux {
namespace {

enum class Side { kLeft, kRight };

// Python's str.lstrip() / str.rstrip() on UTF-8 text.
std::string strip(const std::string& text, Side side) {
  std::u32string chars = unicode::decode_utf8(text);
  if (side == Side::kLeft) {
    size_t first = 0;
    while (first < chars.size() && unicode::is_python_space(chars[first])) ++first;
    chars.erase(0, first);
  } else {
    size_t last = chars.size();
    while (last > 0 && unicode::is_python_space(chars[last - 1])) --last;
    chars.erase(last);
  }
  return unicode::encode_utf8(chars);
}

}  // namespace

AddedTokens::AddedTokens(std::vector<AddedToken> tokens, const std::string& source)
    : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].content.empty()) {
      throw LoadError(source + ": added token " + std::to_string(tokens_[i].id) + " is empty");
    }
    if (!by_content_.emplace(tokens_[i].content, i).second) {
      throw LoadError(source + ": added token \"" + tokens_[i].content + "\" appears twice");
    }
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
  }
}

const AddedToken* AddedTokens::find(const std::string& content) const {
  auto it = by_content_.find(content);
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

std::vector<AddedTokens::Piece> AddedTokens::split(const std::string& text) const {
  std::vector<Piece> pieces;
  size_t text_start = 0;
  size_t i = 0;
  while (i < text.size()) {
    const AddedToken* longest = nullptr;
    for (size_t index : by_first_byte_[static_cast<unsigned char>(text[i])]) {
      const AddedToken& token = tokens_[index];
      if (text.compare(i, token.content.size(), token.content) == 0 &&
          (longest == nullptr || token.content.size() > longest->content.size())) {
        longest = &token;
      }
    }
    if (longest == nullptr) {
      ++i;
      continue;
    }
    if (i > text_start) pieces.push_back({text.substr(text_start, i - text_start), nullptr});
    pieces.push_back({longest->content, longest});
    i += longest->content.size();
    text_start = i;
  }
  if (text_start < text.size()) pieces.push_back({text.substr(text_start), nullptr});

  for (size_t k = 0; k < pieces.size(); ++k) {
    const AddedToken* token = pieces[k].token;
    if (token == nullptr) continue;
    if (token->rstrip && k + 1 < pieces.size()) {
      pieces[k + 1].text = strip(pieces[k + 1].text, Side::kLeft);
    }
    if (token->lstrip && k > 0) pieces[k - 1].text = strip(pieces[k - 1].text, Side::kRight);
  }
  std::vector<Piece> kept;
  for (Piece& piece : pieces) {
    if (!piece.text.empty()) kept.push_back(std::move(piece));
  }
  return kept;
}

}  // namespace flx::flux
