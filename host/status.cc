#include "status.h"

namespace flx {

const char* CodeName(flx_code code) {
  switch (code) {
    case FLX_OK: return "OK";
    case FLX_CANCELLED: return "CANCELLED";
    case FLX_UNKNOWN: return "UNKNOWN";
    case FLX_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case FLX_DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case FLX_NOT_FOUND: return "NOT_FOUND";
    case FLX_ALREADY_EXISTS: return "ALREADY_EXISTS";
    case FLX_PERMISSION_DENIED: return "PERMISSION_DENIED";
    case FLX_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case FLX_FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case FLX_ABORTED: return "ABORTED";
    case FLX_OUT_OF_RANGE: return "OUT_OF_RANGE";
    case FLX_UNIMPLEMENTED: return "UNIMPLEMENTED";
    case FLX_INTERNAL: return "INTERNAL";
    case FLX_UNAVAILABLE: return "UNAVAILABLE";
  }
  return "UNKNOWN";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code_)) + ": " + message_;
}

}  // namespace flx
