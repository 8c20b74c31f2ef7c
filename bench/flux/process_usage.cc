#include "process_usage.h"

#include <sys/resource.h>

namespace flx::bench {

ProcessUsage ProcessUsage::now() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  ProcessUsage out;
  out.minor_faults = usage.ru_minflt;
  out.major_faults = usage.ru_majflt;
  out.peak_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
  return out;
}

}  // namespace flx::bench
