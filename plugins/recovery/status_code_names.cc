#include "status_code_names.h"

#include <utility>

namespace flx::recovery {
namespace {

constexpr std::pair<const char*, flx_code> kFailureCodes[] = {
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

}  // namespace

std::optional<flx_code> ParseStatusCode(const std::string& name) {
  for (const auto& [text, code] : kFailureCodes) {
    if (name == text) return code;
  }
  return std::nullopt;
}

const char* StatusCodeName(flx_code code) {
  if (code == FLX_OK) return "OK";
  for (const auto& [text, known] : kFailureCodes) {
    if (code == known) return text;
  }
  return "UNKNOWN";
}

std::string KnownStatusCodeNames() {
  std::string names;
  for (const auto& entry : kFailureCodes) {
    names += names.empty() ? entry.first : std::string(", ") + entry.first;
  }
  return names;
}

}  // namespace flx::recovery
