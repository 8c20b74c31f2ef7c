// Reading YAML scalar text as typed values, shared by the graph schema and the flx_config
// getters so both accept exactly the same spellings.
#ifndef FLX_HOST_CONFIG_SCALAR_H_
#define FLX_HOST_CONFIG_SCALAR_H_

#include <cstdint>
#include <string>

#include "status.h"

namespace flx {

// An integer in the YAML 1.2 core schema: an optional sign, then decimal digits, 0x + hex
// digits or 0o + octal digits. "1.5", "1e3", "abc" and values outside int64 are
// INVALID_ARGUMENT errors whose message reads "expected an integer, got '1.5'".
StatusOr<int64_t> ParseInteger(const std::string& text);

// A number: any integer or decimal spelling of the YAML core schema ("3", "-2.5", ".5",
// "1e-3"), or .inf, -.inf, .nan (and their capitalised forms). Hex and words such as "inf"
// are rejected, as are values that overflow a double.
StatusOr<double> ParseNumber(const std::string& text);

// A boolean: true/false, yes/no, on/off, each lower-case, Capitalised or UPPER-CASE, or 1/0
// (what environment variables usually say), in YAML and in the environment alike.
StatusOr<bool> ParseBoolean(const std::string& text);

}  // namespace flx

#endif  // FLX_HOST_CONFIG_SCALAR_H_
