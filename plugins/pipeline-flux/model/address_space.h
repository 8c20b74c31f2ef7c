// address_space.h — how close the process is to its address-space limit (RLIMIT_AS, what
// `ulimit -v` and `prlimit --as` set), so the CPU allocator can fail a tensor allocation while
// there is still room for the libraries that allocate beside libtorch.
//
// Why: not every library survives a failed allocation. oneDNN, which runs libtorch's bfloat16
// convolutions on the CPU, generates its kernels into freshly mapped memory at the first call
// for a shape; when that mapping fails it writes through a null buffer and the process dies of
// SIGSEGV (seen in the VAE decode of a 1024x1024 image retried after a 2048x2048 one ran out of
// memory under a limit). A tensor allocation that fails instead becomes RESOURCE_EXHAUSTED,
// which the recovery stage answers by retrying smaller. So under a finite limit, tensors leave
// kAddressSpaceReserve of it unused.
#ifndef FLX_FLUX_MODEL_ADDRESS_SPACE_H_
#define FLX_FLUX_MODEL_ADDRESS_SPACE_H_

#include <cstdint>

namespace flx::flux {

// What tensors leave free below a finite limit: room for JIT code, scratch buffers, thread
// stacks and malloc arenas of the libraries beside libtorch.
constexpr uint64_t kAddressSpaceReserve = uint64_t{256} << 20;

// The soft RLIMIT_AS in bytes; 0 when there is none (RLIM_INFINITY) or it cannot be read.
uint64_t AddressSpaceLimit();
// The address space the process maps now (VmSize, from /proc/self/statm); 0 when unreadable.
uint64_t AddressSpaceInUse();

// Whether mapping `bytes` more, with `in_use` mapped, keeps `reserve` free below `limit`.
// A limit of 0 means none: always true. A limit smaller than the reserve keeps nothing back
// beyond the limit itself (a tiny limit must not refuse everything).
bool LeavesReserve(uint64_t in_use, uint64_t bytes, uint64_t limit, uint64_t reserve);

// LeavesReserve() for this process now, with kAddressSpaceReserve. True when the limit or the
// usage cannot be read: the allocator then fails only when the system says so.
bool AllocationLeavesReserve(uint64_t bytes);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_ADDRESS_SPACE_H_
