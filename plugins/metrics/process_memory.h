// The resident memory of this process, for a gauge read at scrape time.
#ifndef FLX_PLUGINS_METRICS_PROCESS_MEMORY_H_
#define FLX_PLUGINS_METRICS_PROCESS_MEMORY_H_

#include <optional>

namespace flx::metrics {

// Resident set size in bytes from /proc/self/statm, or nullopt where that file cannot be
// read (not Linux). Does file I/O: call it at scrape time, never per event.
std::optional<double> ReadResidentMemoryBytes();

}  // namespace flx::metrics

#endif  // FLX_PLUGINS_METRICS_PROCESS_MEMORY_H_
