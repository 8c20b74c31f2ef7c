#include "io/unicode.h"

#include <gtest/gtest.h>

namespace flx::flux::unicode {
namespace {

// Expected values are what CPython 3.11 (the reference's Python) returns for the same input;
// gen_unicode_data.py was additionally checked against it over every code point.

std::string hex(const std::u32string& text) {
  std::string out;
  for (char32_t c : text) {
    char buffer[12];
    std::snprintf(buffer, sizeof buffer, "%X ", static_cast<unsigned>(c));
    out += buffer;
  }
  return out;
}

TEST(Utf8, DecodesLikePythonWithErrorsReplace) {
  struct Case {
    std::string bytes;
    std::u32string expected;
  };
  const Case cases[] = {
      {"caf\xC3\xA9", U"caf\u00E9"},
      {"\xF0\x9F\x99\x82", U"\U0001F642"},
      {"\xE2\x82", U"\uFFFD"},  // truncated sequence: one replacement
      {"\xE2\x82"
       "A",
       U"\uFFFDA"},  // broken by an ASCII byte, which survives
      {"\xFF", U"\uFFFD"},
      {"\xED\xA0\x80", U"\uFFFD\uFFFD\uFFFD"},            // encoded surrogate
      {"\xF4\x90\x80\x80", U"\uFFFD\uFFFD\uFFFD\uFFFD"},  // beyond U+10FFFF
      {"\xC0\xAF", U"\uFFFD\uFFFD"},                      // overlong
  };
  for (const Case& c : cases) {
    EXPECT_EQ(hex(decode_utf8(c.bytes)), hex(c.expected)) << "input bytes " << c.bytes.size();
  }
  EXPECT_EQ(encode_utf8(U"caf\u00E9 \U0001F642"), "caf\xC3\xA9 \xF0\x9F\x99\x82");
}

TEST(Nfc, ComposesReordersAndMapsSingletonsLikeUnicodedata) {
  struct Case {
    std::u32string input;
    std::u32string expected;
  };
  const Case cases[] = {
      {U"e\u0301", U"\u00E9"},
      {U"\u212B", U"\u00C5"},               // ANGSTROM SIGN, a singleton
      {U"\u1100\u1161\u11A8", U"\uAC01"},   // Hangul jamo L V T
      {U"a\u0301\u0323", U"\u1EA1\u0301"},  // reordered: dot below (220) before acute (230)
      {U"a\u0323\u0301", U"\u1EA1\u0301"},
      {U"\u0301a", U"\u0301a"},              // leading combining mark stays
      {U"q\u0307\u0323", U"q\u0323\u0307"},  // no composite, only reordering
      {U"\uF900", U"\u8C48"},                // CJK compatibility ideograph
      {U"\u0344", U"\u0308\u0301"},          // decomposes, excluded from recomposition
      {U"e\u0301\u0301", U"\u00E9\u0301"},   // the second acute is blocked
      {U"", U""},
  };
  for (const Case& c : cases) EXPECT_EQ(hex(nfc(c.input)), hex(c.expected)) << hex(c.input);
}

TEST(ToLower, MatchesPythonStrLowerIncludingFinalSigma) {
  struct Case {
    std::u32string input;
    std::u32string expected;
  };
  const Case cases[] = {
      {U"A PHOTO", U"a photo"},
      {U"\u0391\u03A3", U"\u03B1\u03C2"},  // final sigma
      {U"\u03A3", U"\u03C3"},              // alone: not final
      {U"\u0391\u03A3 \u0391", U"\u03B1\u03C2 \u03B1"},
      {U"\u0391\u03A3'", U"\u03B1\u03C2'"},              // apostrophe is case-ignorable
      {U"\u0391\u03A3'\u0391", U"\u03B1\u03C3'\u03B1"},  // ...so the next letter counts
      {U"\u03A3\u0391", U"\u03C3\u03B1"},
      {U"\u0130", U"i\u0307"},  // the one multi-character mapping
      {U"\u1E9E", U"\u00DF"},
      {U"\uFF21", U"\uFF41"},
  };
  for (const Case& c : cases) EXPECT_EQ(hex(to_lower(c.input)), hex(c.expected)) << hex(c.input);
}

TEST(CharacterClasses, FollowGeneralCategories) {
  EXPECT_TRUE(is_letter(U'a'));
  EXPECT_TRUE(is_letter(U'\u6771'));
  EXPECT_FALSE(is_letter(U'\u0301'));  // Mn
  EXPECT_TRUE(is_number(U'\u0663'));   // ARABIC-INDIC DIGIT THREE
  EXPECT_FALSE(is_number(U'_'));
  EXPECT_TRUE(is_space_separator(U'\u00A0'));
  EXPECT_TRUE(is_space_separator(U'\u3000'));
  EXPECT_FALSE(is_space_separator(U'\u2028'));  // Zl
  EXPECT_TRUE(is_other(U'\u200D'));             // Cf
  EXPECT_TRUE(is_other(U'\uE000'));             // Co
  EXPECT_TRUE(is_other(U'\u0378'));             // unassigned
  EXPECT_TRUE(is_other(U'\x07'));
  EXPECT_TRUE(is_python_space(U'\u2028'));
  EXPECT_TRUE(is_python_space(U'\x1C'));
  EXPECT_FALSE(is_python_space(U'\u200B'));
}

}  // namespace
}  // namespace flx::flux::unicode
