#include <utility>

#include "config/environment.h"

namespace flx {
namespace {

bool IsNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

// A recursive-descent expander: a default value is itself expanded, and is only evaluated
// (so may only fail on an unset variable) when it is used, as in POSIX sh.
class Expander {
 public:
  Expander(const std::string& text, const Environment& env) : text_(text), env_(env) {}

  Status Run(std::string* out) {
    size_t pos = 0;
    return Expand(&pos, /*nested=*/false, /*evaluate=*/true, out);
  }

 private:
  // Expands from *pos up to the end of the text, or, when `nested`, up to the '}' that closes
  // the enclosing reference (left at *pos).
  Status Expand(size_t* pos, bool nested, bool evaluate, std::string* out) {
    while (*pos < text_.size()) {
      char c = text_[*pos];
      if (c == '}' && nested) return Status::Ok();
      if (c != '$' || *pos + 1 >= text_.size()) {
        out->push_back(c);
        ++*pos;
        continue;
      }
      char next = text_[*pos + 1];
      if (next == '$') {
        out->push_back('$');
        *pos += 2;
      } else if (next == '{') {
        FLX_RETURN_IF_ERROR(Reference(pos, evaluate, out));
      } else {
        out->push_back('$');
        ++*pos;
      }
    }
    if (nested) return Unterminated();
    return Status::Ok();
  }

  // Expands the reference starting at *pos ("${") and moves past its closing '}'.
  Status Reference(size_t* pos, bool evaluate, std::string* out) {
    size_t start = *pos;
    size_t p = start + 2;
    size_t name_begin = p;
    if (p < text_.size() && IsNameStart(text_[p])) {
      while (p < text_.size() && IsNameChar(text_[p])) ++p;
    }
    std::string name = text_.substr(name_begin, p - name_begin);
    if (p >= text_.size()) return Unterminated();
    if (name.empty() || (text_[p] != '}' && text_.compare(p, 2, ":-") != 0)) {
      return InvalidArgument("bad variable reference '" + Quote(start) +
                             "': expected ${NAME} or ${NAME:-default}");
    }
    std::optional<std::string> value = env_.Get(name);
    if (text_[p] == '}') {
      *pos = p + 1;
      if (!evaluate) return Status::Ok();
      if (!value) return InvalidArgument("environment variable '" + name + "' is not set");
      out->append(*value);
      return Status::Ok();
    }
    p += 2;
    bool use_default = evaluate && (!value || value->empty());
    std::string fallback;
    FLX_RETURN_IF_ERROR(Expand(&p, /*nested=*/true, use_default, &fallback));
    *pos = p + 1;
    if (!evaluate) return Status::Ok();
    out->append(use_default ? fallback : *value);
    return Status::Ok();
  }

  // The reference starting at `start`, up to its first '}' (or the end of the text).
  std::string Quote(size_t start) const {
    size_t close = text_.find('}', start);
    return close == std::string::npos ? text_.substr(start)
                                      : text_.substr(start, close - start + 1);
  }

  Status Unterminated() const { return InvalidArgument("unterminated '${' in '" + text_ + "'"); }

  const std::string& text_;
  const Environment& env_;
};

}  // namespace

StatusOr<std::string> Interpolate(const std::string& text, const Environment& env) {
  if (text.find('$') == std::string::npos) return text;
  std::string out;
  Status status = Expander(text, env).Run(&out);
  if (!status.ok()) return status;
  return out;
}

}  // namespace flx
