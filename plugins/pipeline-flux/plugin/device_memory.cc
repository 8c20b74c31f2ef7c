#include "device_memory.h"

#if defined(FLX_TORCH_HAS_C10_CUDA) && __has_include(<c10/cuda/CUDACachingAllocator.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/cuda.h>
#define FLX_CAN_EMPTY_CUDA_CACHE 1
#endif

namespace flx::flux {

const char* release_cached_device_memory() noexcept {
#ifdef FLX_CAN_EMPTY_CUDA_CACHE
  try {
    if (torch::cuda::is_available()) {
      c10::cuda::CUDACachingAllocator::emptyCache();
      return "the CUDA caching allocator's cache";
    }
  } catch (...) {
    // Freeing is best effort: the failure being reported matters more than this one.
  }
#endif
  return "";
}

}  // namespace flx::flux
