#include "status.h"

#include <flx/codes.hpp>

namespace flx {

const char* CodeName(flx_code code) { return code_name(code); }

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code_)) + ": " + message_;
}

}  // namespace flx
