// integer_range_scan.h — finds integer literals a JSON parser would silently wrap.
//
// Poco's JSON parser (1.11) reads 18446744073709551616 (2^64) as 0 and -2^63-1 as -2^63, so
// a request asking for seed 2^64 would get seed 0. Before parsing, the request reader scans
// the body for the members of the top-level object whose value is an integer literal outside
// [-2^63, 2^64-1] and refuses those fields by name.
#ifndef FLX_HOST_HTTP_INTEGER_RANGE_SCAN_H_
#define FLX_HOST_HTTP_INTEGER_RANGE_SCAN_H_

#include <string>
#include <string_view>
#include <vector>

namespace flx {

// The keys (as written, escapes undecoded) of the top-level object's members whose value is
// an integer literal (no fraction, no exponent) below -2^63 or above 2^64-1, in body order.
// Anything that is not a JSON object, or not well formed, gives what was found before the
// scan lost its way; the parser reports malformed JSON itself.
std::vector<std::string> KeysWithOutOfRangeIntegers(std::string_view json);

}  // namespace flx

#endif  // FLX_HOST_HTTP_INTEGER_RANGE_SCAN_H_
