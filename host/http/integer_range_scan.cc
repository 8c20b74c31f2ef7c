#include "http/integer_range_scan.h"

namespace flx {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Whether the digits (no sign, no leading zeros beyond a lone "0") exceed `limit`.
bool DigitsExceed(std::string_view digits, std::string_view limit) {
  if (digits.size() != limit.size()) return digits.size() > limit.size();
  return digits > limit;
}

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  std::vector<std::string> Run() {
    SkipSpace();
    if (!Eat('{')) return found_;
    SkipSpace();
    if (Eat('}')) return found_;
    while (pos_ < text_.size()) {
      std::string key;
      if (!ReadString(&key)) return found_;
      SkipSpace();
      if (!Eat(':')) return found_;
      SkipSpace();
      if (pos_ < text_.size() && (text_[pos_] == '-' || IsDigit(text_[pos_]))) {
        if (NumberOutOfRange()) found_.push_back(key);
      } else if (!SkipValue()) {
        return found_;
      }
      SkipSpace();
      if (!Eat(',')) return found_;
      SkipSpace();
    }
    return found_;
  }

 private:
  bool Eat(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void SkipSpace() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }

  // A string starting at pos_; its raw contents (escapes kept) go to `out` when not null.
  bool ReadString(std::string* out) {
    if (!Eat('"')) return false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (out != nullptr) out->push_back(c);
      if (c == '\\' && pos_ < text_.size()) {
        if (out != nullptr) out->push_back(text_[pos_]);
        ++pos_;
      }
    }
    return false;
  }

  // Reads a number at pos_; true when it is an integer literal outside [-2^63, 2^64-1].
  bool NumberOutOfRange() {
    const bool negative = Eat('-');
    const size_t first = pos_;
    while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    std::string_view digits = text_.substr(first, pos_ - first);
    bool integer = true;
    while (pos_ < text_.size() && (IsDigit(text_[pos_]) || text_[pos_] == '.' ||
                                   text_[pos_] == 'e' || text_[pos_] == 'E' ||
                                   text_[pos_] == '+' || text_[pos_] == '-')) {
      integer = false;
      ++pos_;
    }
    if (!integer || digits.empty()) return false;
    while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
    return negative ? DigitsExceed(digits, "9223372036854775808")
                    : DigitsExceed(digits, "18446744073709551615");
  }

  // Skips any other value (string, object, array, literal), tracking nesting and strings.
  bool SkipValue() {
    if (pos_ < text_.size() && text_[pos_] == '"') return ReadString(nullptr);
    int depth = 0;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '"') {
        if (!ReadString(nullptr)) return false;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (depth == 0) return true;  // the end of the top-level object
        --depth;
      }
      if (c == ',' && depth == 0) return true;
      ++pos_;
    }
    return depth == 0;
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::vector<std::string> found_;
};

}  // namespace

std::vector<std::string> KeysWithOutOfRangeIntegers(std::string_view json) {
  return Scanner(json).Run();
}

}  // namespace flx
