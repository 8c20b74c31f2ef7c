// progress.hpp — the one terminal progress bar of fluxserve and its plugins, for step events:
//   [###########...................] step 4/12  0.83 s/step
// Header-only C++17; writes nothing when the stream is not a terminal.
#ifndef FLX_PROGRESS_HPP_
#define FLX_PROGRESS_HPP_

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace flx {

// The bar for step `step` of `total` (total 0 draws a full bar), `seconds` the step's time.
inline std::string progress_bar_line(uint32_t step, uint32_t total, double seconds) {
  constexpr uint32_t kWidth = 30;
  const uint32_t filled = total == 0 ? kWidth : (step >= total ? kWidth : step * kWidth / total);
  char timing[64];
  std::snprintf(timing, sizeof(timing), "  %.2f s/step", seconds);
  return "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] step " +
         std::to_string(step) + "/" + std::to_string(total) + timing;
}

// Redraws the bar in place on `stream` when it is a terminal; ends the line at the last step.
inline void draw_progress_bar(std::FILE* stream, uint32_t step, uint32_t total, double seconds) {
  if (::isatty(::fileno(stream)) == 0) return;
  const std::string line = progress_bar_line(step, total, seconds);
  std::fprintf(stream, "\r%s%s", line.c_str(), step >= total ? "\n" : "");
  std::fflush(stream);
}

}  // namespace flx

#endif  // FLX_PROGRESS_HPP_
