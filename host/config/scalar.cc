#include "config/scalar.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace flx {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Splits an optional leading sign off `text` into `negative`; returns the remainder.
std::string StripSign(const std::string& text, bool* negative) {
  *negative = !text.empty() && text[0] == '-';
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) return text.substr(1);
  return text;
}

// True when `text` matches [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsDecimalNumber(const std::string& text) {
  size_t i = 0, n = text.size();
  if (i < n && (text[i] == '-' || text[i] == '+')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < n && IsDigit(text[i])) ++i, ++int_digits;
  if (i < n && text[i] == '.') {
    ++i;
    while (i < n && IsDigit(text[i])) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '-' || text[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < n && IsDigit(text[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == n;
}

Status NotAnInteger(const std::string& text) {
  return InvalidArgument("expected an integer, got '" + text + "'");
}

}  // namespace

StatusOr<int64_t> ParseInteger(const std::string& text) {
  bool negative = false;
  std::string body = StripSign(text, &negative);
  int base = 10;
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'o')) {
    base = body[1] == 'x' ? 16 : 8;
    body = body.substr(2);
  }
  if (body.empty()) return NotAnInteger(text);
  uint64_t magnitude = 0;
  const char* end = body.data() + body.size();
  auto [ptr, ec] = std::from_chars(body.data(), end, magnitude, base);
  if (ptr != end) return NotAnInteger(text);
  constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (ec == std::errc::result_out_of_range || magnitude > kMaxPositive + (negative ? 1 : 0)) {
    return InvalidArgument("integer '" + text + "' is out of range (64-bit signed)");
  }
  if (ec != std::errc()) return NotAnInteger(text);
  if (!negative) return static_cast<int64_t>(magnitude);
  if (magnitude == kMaxPositive + 1) return std::numeric_limits<int64_t>::min();
  return -static_cast<int64_t>(magnitude);
}

StatusOr<double> ParseNumber(const std::string& text) {
  bool negative = false;
  std::string body = StripSign(text, &negative);
  if (body == ".inf" || body == ".Inf" || body == ".INF") {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (text == ".nan" || text == ".NaN" || text == ".NAN") {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (!IsDecimalNumber(text)) return InvalidArgument("expected a number, got '" + text + "'");
  double value = 0;
  const char* end = body.data() + body.size();
  auto [ptr, ec] = std::from_chars(body.data(), end, value);
  if (ec == std::errc::result_out_of_range) {
    return InvalidArgument("number '" + text + "' is out of range");
  }
  if (ec != std::errc() || ptr != end) {
    return InvalidArgument("expected a number, got '" + text + "'");
  }
  return negative ? -value : value;
}

StatusOr<bool> ParseBoolean(const std::string& text) {
  static const char* const kTrue[] = {"true", "True", "TRUE", "yes", "Yes",
                                      "YES",  "on",   "On",   "ON",  "1"};
  static const char* const kFalse[] = {"false", "False", "FALSE", "no", "No",
                                       "NO",    "off",   "Off",   "OFF", "0"};
  for (const char* t : kTrue) {
    if (text == t) return true;
  }
  for (const char* f : kFalse) {
    if (text == f) return false;
  }
  return InvalidArgument("expected a boolean (true/false, yes/no, on/off, 1/0), got '" + text +
                         "'");
}

}  // namespace flx
