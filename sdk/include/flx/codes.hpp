// codes.hpp — the canonical names of flx_code ("RESOURCE_EXHAUSTED"...), for configs and
// messages. Header-only C++17; shared by the host and plugins so every stage spells a code the
// same way (the absl/gRPC names).
#ifndef FLX_CODES_HPP_
#define FLX_CODES_HPP_

#include <flx/flx.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace flx {

// Every failure code with its name, in numeric order (FLX_OK is not a failure).
inline constexpr std::pair<std::string_view, flx_code> kFailureCodes[] = {
    {"CANCELLED", FLX_CANCELLED},
    {"UNKNOWN", FLX_UNKNOWN},
    {"INVALID_ARGUMENT", FLX_INVALID_ARGUMENT},
    {"DEADLINE_EXCEEDED", FLX_DEADLINE_EXCEEDED},
    {"NOT_FOUND", FLX_NOT_FOUND},
    {"ALREADY_EXISTS", FLX_ALREADY_EXISTS},
    {"PERMISSION_DENIED", FLX_PERMISSION_DENIED},
    {"RESOURCE_EXHAUSTED", FLX_RESOURCE_EXHAUSTED},
    {"FAILED_PRECONDITION", FLX_FAILED_PRECONDITION},
    {"ABORTED", FLX_ABORTED},
    {"OUT_OF_RANGE", FLX_OUT_OF_RANGE},
    {"UNIMPLEMENTED", FLX_UNIMPLEMENTED},
    {"INTERNAL", FLX_INTERNAL},
    {"UNAVAILABLE", FLX_UNAVAILABLE},
};

// "OK" for FLX_OK, the canonical name of a failure code, "UNKNOWN" for values outside the enum.
inline const char* code_name(flx_code code) {
  if (code == FLX_OK) return "OK";
  for (const auto& [name, known] : kFailureCodes) {
    if (code == known) return name.data();
  }
  return "UNKNOWN";
}

// The failure code named `name` (exact, upper case); nullopt for "OK" and unknown names.
inline std::optional<flx_code> parse_failure_code(std::string_view name) {
  for (const auto& [text, code] : kFailureCodes) {
    if (name == text) return code;
  }
  return std::nullopt;
}

// "CANCELLED, UNKNOWN, ..." for messages that list what is accepted.
inline std::string failure_code_names() {
  std::string out;
  for (const auto& [name, code] : kFailureCodes) {
    (void)code;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace flx

#endif  // FLX_CODES_HPP_
