#include "process_memory.h"

#include <unistd.h>

#include <cstdio>

namespace flx::metrics {

std::optional<double> ReadResidentMemoryBytes() {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return std::nullopt;
  unsigned long long size_pages = 0;
  unsigned long long resident_pages = 0;
  int fields = std::fscanf(statm, "%llu %llu", &size_pages, &resident_pages);
  std::fclose(statm);
  long page_size = ::sysconf(_SC_PAGESIZE);
  if (fields != 2 || page_size <= 0) return std::nullopt;
  return double(resident_pages) * double(page_size);
}

}  // namespace flx::metrics
