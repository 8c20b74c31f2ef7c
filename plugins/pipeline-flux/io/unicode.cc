#include "io/unicode.h"

#include <algorithm>
#include <array>

#include "io/unicode_data.h"

namespace flx::flux::unicode {
namespace {

using namespace unicode_data;

constexpr uint8_t kMajorMask = 0x7;
constexpr uint8_t kLetter = 0, kNumber = 1, kOther = 2, kSpaceSeparator = 3;
constexpr uint8_t kCaseIgnorable = 1 << 3;
constexpr uint8_t kCased = 1 << 4;
constexpr char32_t kReplacement = 0xFFFD;

uint8_t class_bits_searched(char32_t c) {
  const ClassRange* end = kClassRanges + kClassRangeCount;
  const ClassRange* next =
      std::upper_bound(kClassRanges, end, c,
                       [](char32_t value, const ClassRange& range) { return value < range.first; });
  return (next - 1)->bits;
}

// Prompts are mostly Latin-1, and the tokenizers ask several classes per character: a table
// for the first 256 code points spares the binary search over the ranges for them.
uint8_t class_bits(char32_t c) {
  static const std::array<uint8_t, 256> kLatin1 = [] {
    std::array<uint8_t, 256> table{};
    for (char32_t code = 0; code < table.size(); ++code) table[code] = class_bits_searched(code);
    return table;
  }();
  if (c < kLatin1.size()) return kLatin1[c];
  if (c >= 0x110000) return kOther;
  return class_bits_searched(c);
}

uint8_t combining_class(char32_t c) {
  if (c < 0x300) return 0;
  const CombiningRange* end = kCombiningRanges + kCombiningRangeCount;
  const CombiningRange* next = std::upper_bound(
      kCombiningRanges, end, c,
      [](char32_t value, const CombiningRange& range) { return value < range.first; });
  return (next - 1)->combining_class;
}

char32_t lower_simple(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  for (size_t i = 0; i < kLowerRunCount; ++i) {
    const LowerRun& run = kLowerRuns[i];
    if (c >= run.first && c <= run.last && (c - run.first) % run.stride == 0) {
      return static_cast<char32_t>(static_cast<int64_t>(c) + run.delta);
    }
  }
  return c;
}

// CPython's Final_Sigma test for the capital sigma at `i`: a cased letter before it and none
// after it, skipping case-ignorable characters on both sides.
bool is_final_sigma(const std::u32string& text, size_t i) {
  size_t j = i;
  while (j > 0 && (class_bits(text[j - 1]) & kCaseIgnorable)) --j;
  if (j == 0 || !(class_bits(text[j - 1]) & kCased)) return false;
  size_t k = i + 1;
  while (k < text.size() && (class_bits(text[k]) & kCaseIgnorable)) ++k;
  return k == text.size() || !(class_bits(text[k]) & kCased);
}

// Hangul syllables decompose and compose algorithmically (Unicode 3.12).
constexpr char32_t kHangulBase = 0xAC00, kLeadBase = 0x1100, kVowelBase = 0x1161,
                   kTrailBase = 0x11A7;
constexpr char32_t kLeadCount = 19, kVowelCount = 21, kTrailCount = 28;
constexpr char32_t kSyllableCount = kLeadCount * kVowelCount * kTrailCount;

void decompose(char32_t c, std::u32string& out) {
  if (c >= kHangulBase && c < kHangulBase + kSyllableCount) {
    const char32_t index = c - kHangulBase;
    out += kLeadBase + index / (kVowelCount * kTrailCount);
    out += kVowelBase + (index % (kVowelCount * kTrailCount)) / kTrailCount;
    if (index % kTrailCount != 0) out += kTrailBase + index % kTrailCount;
    return;
  }
  const Decomposition* end = kDecompositions + kDecompositionCount;
  const Decomposition* found = std::lower_bound(
      kDecompositions, end, c,
      [](const Decomposition& entry, char32_t value) { return entry.code_point < value; });
  if (found == end || found->code_point != c) {
    out += c;
    return;
  }
  decompose(found->first, out);
  if (found->second != 0) decompose(found->second, out);
}

// The primary composite of `first` and `second`, or 0.
char32_t compose_pair(char32_t first, char32_t second) {
  if (first >= kLeadBase && first < kLeadBase + kLeadCount && second >= kVowelBase &&
      second < kVowelBase + kVowelCount) {
    return kHangulBase + ((first - kLeadBase) * kVowelCount + (second - kVowelBase)) * kTrailCount;
  }
  if (first >= kHangulBase && first < kHangulBase + kSyllableCount &&
      (first - kHangulBase) % kTrailCount == 0 && second > kTrailBase &&
      second < kTrailBase + kTrailCount) {
    return first + (second - kTrailBase);
  }
  const Composition* end = kCompositions + kCompositionCount;
  const Composition* found =
      std::lower_bound(kCompositions, end, std::make_pair(first, second),
                       [](const Composition& entry, const std::pair<char32_t, char32_t>& key) {
                         return std::make_pair(entry.first, entry.second) < key;
                       });
  return (found != end && found->first == first && found->second == second) ? found->composite : 0;
}

}  // namespace

std::u32string decode_utf8(const std::string& text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  size_t i = 0;
  while (i < size) {
    const unsigned char lead = bytes[i];
    if (lead < 0x80) {
      out += lead;
      ++i;
      continue;
    }
    size_t length;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the first continuation byte
    char32_t value;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      value = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      value = lead & 0x0F;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      value = lead & 0x07;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else {
      out += kReplacement;
      ++i;
      continue;
    }
    // Like Python, a truncated but so-far valid sequence becomes one U+FFFD and decoding
    // resumes at the byte that broke it.
    size_t consumed = 1;
    while (consumed < length && i + consumed < size) {
      const unsigned char next = bytes[i + consumed];
      const unsigned char lo = consumed == 1 ? low : 0x80, hi = consumed == 1 ? high : 0xBF;
      if (next < lo || next > hi) break;
      value = (value << 6) | (next & 0x3F);
      ++consumed;
    }
    out += consumed == length ? value : kReplacement;
    i += consumed;
  }
  return out;
}

std::string encode_utf8(char32_t c) {
  std::string out;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
  return out;
}

std::string encode_utf8(const std::u32string& text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) out += encode_utf8(c);
  return out;
}

bool is_letter(char32_t c) { return (class_bits(c) & kMajorMask) == kLetter; }
bool is_number(char32_t c) { return (class_bits(c) & kMajorMask) == kNumber; }
bool is_space_separator(char32_t c) { return (class_bits(c) & kMajorMask) == kSpaceSeparator; }
bool is_other(char32_t c) { return (class_bits(c) & kMajorMask) == kOther; }

bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) || c == 0x85 || c == 0x2028 ||
         c == 0x2029 || is_space_separator(c);
}

std::u32string to_lower(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c == 0x130) {  // the one unconditional multi-character lowercase mapping
      out += U"i\u0307";
    } else if (c == 0x3A3) {
      out += is_final_sigma(text, i) ? char32_t{0x3C2} : char32_t{0x3C3};
    } else {
      out += lower_simple(c);
    }
  }
  return out;
}

std::u32string nfc(const std::u32string& text) {
  std::u32string s;
  s.reserve(text.size());
  for (char32_t c : text) decompose(c, s);

  // Canonical ordering: each run of non-starters sorted by combining class, stably.
  for (size_t i = 0; i < s.size();) {
    if (combining_class(s[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && combining_class(s[j]) != 0) ++j;
    std::stable_sort(s.begin() + i, s.begin() + j, [](char32_t a, char32_t b) {
      return combining_class(a) < combining_class(b);
    });
    i = j;
  }

  // Canonical composition (UAX #15): a character joins the last starter unless blocked by an
  // earlier character of the same or higher combining class.
  if (s.empty()) return s;
  size_t starter = 0;
  int last_class = combining_class(s[0]) == 0 ? 0 : 256;
  size_t write = 1;
  for (size_t read = 1; read < s.size(); ++read) {
    const char32_t c = s[read];
    const int c_class = combining_class(c);
    const char32_t composite = compose_pair(s[starter], c);
    // last_class == 0 means the starter itself was the last character kept: nothing between.
    if (composite != 0 && (last_class < c_class || last_class == 0)) {
      s[starter] = composite;
      continue;
    }
    if (c_class == 0) starter = write;
    last_class = c_class;
    s[write++] = c;
  }
  s.resize(write);
  return s;
}

}  // namespace flx::flux::unicode
