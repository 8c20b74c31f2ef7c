#include "model/address_space.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace flx::flux {

uint64_t AddressSpaceLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
  return static_cast<uint64_t>(limit.rlim_cur);
}

uint64_t AddressSpaceInUse() {
  // statm's first field is the mapped size in pages; fopen/fscanf keeps this allocation-free
  // apart from stdio's own small buffer, which matters inside an allocator.
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  unsigned long long pages = 0;
  const int read = std::fscanf(statm, "%llu", &pages);
  std::fclose(statm);
  if (read != 1) return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

bool LeavesReserve(uint64_t in_use, uint64_t bytes, uint64_t limit, uint64_t reserve) {
  if (limit == 0) return true;
  const uint64_t usable = limit > reserve ? limit - reserve : limit;
  return in_use <= usable && bytes <= usable - in_use;
}

bool AllocationLeavesReserve(uint64_t bytes) {
  const uint64_t limit = AddressSpaceLimit();
  if (limit == 0) return true;
  const uint64_t in_use = AddressSpaceInUse();
  if (in_use == 0) return true;
  return LeavesReserve(in_use, bytes, limit, kAddressSpaceReserve);
}

}  // namespace flx::flux
