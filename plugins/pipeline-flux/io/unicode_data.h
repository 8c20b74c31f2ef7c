// unicode_data.h — generated character tables (unicode_data.cc, written by gen_unicode_data.py
// from the reference's Python unicodedata). Only io/unicode.cc reads them.
#ifndef FLX_FLUX_IO_UNICODE_DATA_H_
#define FLX_FLUX_IO_UNICODE_DATA_H_

#include <cstddef>
#include <cstdint>

namespace flx::flux::unicode_data {

// Class bits of a code point: the major class (0 letter L*, 1 number N*, 2 other C* including
// unassigned, 3 space separator Zs, 4 anything else) in bits 0-2, then Case_Ignorable (bit 3)
// and Cased (bit 4, only where not case-ignorable) as CPython's str.lower() uses them.
struct ClassRange {
  char32_t first;  // the range runs up to the next entry's first
  uint8_t bits;
};
// Lowercase mappings: every code point first, first + stride, ..., last maps to cp + delta.
struct LowerRun {
  char32_t first;
  char32_t last;
  uint8_t stride;
  int32_t delta;
};
struct CombiningRange {
  char32_t first;  // the range runs up to the next entry's first
  uint8_t combining_class;
};
// A canonical decomposition into one (second == 0) or two code points.
struct Decomposition {
  char32_t code_point;
  char32_t first;
  char32_t second;
};
// A pair that NFC composes (composition exclusions already left out), sorted by (first, second).
struct Composition {
  char32_t first;
  char32_t second;
  char32_t composite;
};

extern const ClassRange kClassRanges[];
extern const size_t kClassRangeCount;
extern const LowerRun kLowerRuns[];
extern const size_t kLowerRunCount;
extern const CombiningRange kCombiningRanges[];
extern const size_t kCombiningRangeCount;
extern const Decomposition kDecompositions[];  // sorted by code_point
extern const size_t kDecompositionCount;
extern const Composition kCompositions[];
extern const size_t kCompositionCount;

}  // namespace flx::flux::unicode_data

#endif  // FLX_FLUX_IO_UNICODE_DATA_H_
