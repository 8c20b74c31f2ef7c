// unicode.h — the Unicode operations the reference tokenizers perform in Python, reproduced
// for UTF-32 text: character classes as unicodedata.category() / the `regex` module see them,
// str.lower(), str.isspace() and unicodedata.normalize("NFC"). Tables come from the reference's
// Python (3.11, Unicode 14.0) via gen_unicode_data.py, so results match it code point for code
// point, unassigned code points included.
#ifndef FLX_FLUX_IO_UNICODE_H_
#define FLX_FLUX_IO_UNICODE_H_

#include <string>

namespace flx::flux::unicode {

// UTF-8 to code points as Python's bytes.decode("utf-8", errors="replace") does it: a
// truncated but so-far valid sequence becomes one U+FFFD, any other invalid byte one each.
std::u32string decode_utf8(const std::string& text);
std::string encode_utf8(const std::u32string& text);
std::string encode_utf8(char32_t code_point);

bool is_letter(char32_t c);           // general category L*  (regex \p{L})
bool is_number(char32_t c);           // general category N*  (regex \p{N})
bool is_space_separator(char32_t c);  // general category Zs
bool is_other(char32_t c);            // general category C* (Cc, Cf, Cs, Co, and unassigned Cn)
// Python's str.isspace(): Zs plus the characters with bidirectional class WS, B or S.
bool is_python_space(char32_t c);

// Python's str.lower(): full lowercase mapping (U+0130 becomes "i̇") and the Greek capital
// sigma becoming final ς where CPython's Final_Sigma rule says so.
std::u32string to_lower(const std::u32string& text);

// unicodedata.normalize("NFC", text).
std::u32string nfc(const std::u32string& text);

}  // namespace flx::flux::unicode

#endif  // FLX_FLUX_IO_UNICODE_H_
