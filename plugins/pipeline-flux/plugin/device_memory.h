// device_memory.h — giving cached device memory back before an out-of-memory failure is
// reported and when a recovery stage asks for it (override empty_cache), so the next try
// starts from what the device really has free.
//
// What can be freed depends on the libtorch build:
//  * CUDA: c10::cuda::CUDACachingAllocator::emptyCache(), when the plugin is built against a
//    libtorch with CUDA (CMake finds libc10_cuda; the header alone is not enough, as Debian's
//    CPU-only libtorch ships it without the library) and torch::cuda::is_available(). This
//    path compiles only there, so it is untested in CPU-only builds.
//  * MPS: libtorch 1.13 has no call that empties the MPS allocator's cache (its headers have
//    no MPS hooks; the allocator is internal to MPS builds), so nothing is freed on MPS.
//  * CPU: the idle blocks of the CPU buffer pool (model/cpu_buffer_pool.h), when the stage
//    installed it.
#ifndef FLX_FLUX_PLUGIN_DEVICE_MEMORY_H_
#define FLX_FLUX_PLUGIN_DEVICE_MEMORY_H_

namespace flx::flux {

// Releases every device cache this build can release. Returns what it freed ("the CUDA
// caching allocator's cache", "the CPU buffer pool's idle blocks", or both), or "" when there
// was nothing to free. Never throws
// and returns static text, so it is safe while an allocation failure is being handled.
const char* release_cached_device_memory() noexcept;

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_DEVICE_MEMORY_H_
