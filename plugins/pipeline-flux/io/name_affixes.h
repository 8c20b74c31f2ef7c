// name_affixes.h — prefix and suffix tests on tensor names, file names and pieces, shared by
// the io layer's key mappings and file-type checks.
#ifndef FLX_FLUX_IO_NAME_AFFIXES_H_
#define FLX_FLUX_IO_NAME_AFFIXES_H_

#include <string>

namespace flx::flux {

inline bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

inline bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_NAME_AFFIXES_H_
