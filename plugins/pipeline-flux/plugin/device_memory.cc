#include "device_memory.h"

#if defined(FLX_TORCH_HAS_C10_CUDA) && __has_include(<c10/cuda/CUDACachingAllocator.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/cuda.h>
#define FLX_CAN_EMPTY_CUDA_CACHE 1
#endif

#include "model/cpu_buffer_pool.h"

namespace flx::flux {

const char* release_cached_device_memory() noexcept {
  bool cuda = false;
#ifdef FLX_CAN_EMPTY_CUDA_CACHE
  try {
    if (torch::cuda::is_available()) {
      c10::cuda::CUDACachingAllocator::emptyCache();
      cuda = true;
    }
  } catch (...) {
    // Freeing is best effort: the failure being reported matters more than this one.
  }
#endif
  bool pool = false;
  if (CpuBufferPool* installed = CpuBufferPool::installed()) {
    pool = installed->release_idle() > 0;
  }
  if (cuda && pool) return "the CUDA caching allocator's cache and the CPU buffer pool's idle blocks";
  if (cuda) return "the CUDA caching allocator's cache";
  if (pool) return "the CPU buffer pool's idle blocks";
  return "";
}

}  // namespace flx::flux
