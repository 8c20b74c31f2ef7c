#include "config/yaml_characters.h"

#include <cstdint>
#include <cstdio>

namespace flx {
namespace {

bool IsYamlPrintable(uint32_t c) {
  return c == 0x09 || c == 0x0A || c == 0x0D || (c >= 0x20 && c <= 0x7E) || c == 0x85 ||
         (c >= 0xA0 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
         (c >= 0x10000 && c <= 0x10FFFF);
}

// Decodes the UTF-8 sequence at text[*at], advancing *at; nullopt (and *at past the lead byte)
// for a malformed, overlong or surrogate sequence.
std::optional<uint32_t> DecodeUtf8(const std::string& text, size_t* at) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(*at);
  size_t extra;
  uint32_t code;
  if (lead < 0x80) {
    ++*at;
    return lead;
  } else if ((lead & 0xE0) == 0xC0) {
    extra = 1, code = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    extra = 2, code = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    extra = 3, code = lead & 0x07;
  } else {
    ++*at;
    return std::nullopt;
  }
  if (text.size() - *at <= extra) {  // truncated at the end of the text
    ++*at;
    return std::nullopt;
  }
  for (size_t k = 1; k <= extra; ++k) {
    if ((byte(*at + k) & 0xC0) != 0x80) {
      ++*at;
      return std::nullopt;
    }
    code = (code << 6) | (byte(*at + k) & 0x3F);
  }
  static constexpr uint32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
  if (code < kSmallest[extra] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) {
    ++*at;
    return std::nullopt;
  }
  *at += extra + 1;
  return code;
}

std::string CodePointName(uint32_t code) {
  char name[16];
  std::snprintf(name, sizeof name, "U+%04X", static_cast<unsigned>(code));
  return name;
}

}  // namespace

std::optional<CharacterProblem> FindNonPrintableCharacter(const std::string& text) {
  int line = 1;
  int column = 1;
  for (size_t at = 0; at < text.size();) {
    std::optional<uint32_t> code = DecodeUtf8(text, &at);
    if (!code) {
      return CharacterProblem{line, column, "the file is not valid UTF-8 here"};
    }
    if (!IsYamlPrintable(*code)) {
      return CharacterProblem{line, column,
                              "control character " + CodePointName(*code) +
                                  " is not allowed in YAML (write it as an escape in a "
                                  "double-quoted string, e.g. \"\\t\")"};
    }
    if (*code == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::nullopt;
}

}  // namespace flx
