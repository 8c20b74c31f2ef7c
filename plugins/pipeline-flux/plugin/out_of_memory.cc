#include "out_of_memory.h"

#include <cctype>

namespace flx::flux {

bool is_out_of_memory_message(const std::string& message) {
  std::string lower;
  lower.reserve(message.size());
  for (const char c : message)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* marker :
       {"out of memory", "can't allocate memory", "not enough memory", "could not allocate memory",
        "cannot allocate memory"}) {
    if (lower.find(marker) != std::string::npos) return true;
  }
  return false;
}

}  // namespace flx::flux
