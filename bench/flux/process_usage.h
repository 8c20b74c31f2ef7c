// process_usage.h — this process's resource counters (getrusage), for the benchmark's peak
// RSS and page-fault figures: glibc returns large freed blocks to the kernel and every reuse
// faults them in again, which can cost more than the arithmetic (bench/README.md).
#ifndef FLX_BENCH_FLUX_PROCESS_USAGE_H_
#define FLX_BENCH_FLUX_PROCESS_USAGE_H_

#include <cstdint>

namespace flx::bench {

struct ProcessUsage {
  int64_t minor_faults = 0;
  int64_t major_faults = 0;
  int64_t peak_rss_bytes = 0;  // the high-water mark since the process started

  static ProcessUsage now();
};

}  // namespace flx::bench

#endif  // FLX_BENCH_FLUX_PROCESS_USAGE_H_
