// out_of_memory.h — recognising allocation failures in libtorch's error messages, which
// arrive as c10::Error (not std::bad_alloc), so they can be reported as RESOURCE_EXHAUSTED
// and the recovery stage can retry with a cheaper configuration.
#ifndef FLX_FLUX_PLUGIN_OUT_OF_MEMORY_H_
#define FLX_FLUX_PLUGIN_OUT_OF_MEMORY_H_

#include <string>

namespace flx::flux {

// True when `message` (an exception's what()) reports an allocation failure: it contains,
// ignoring case, "out of memory" (CUDA, MPS), "can't allocate memory" or
// "DefaultCPUAllocator" (the CPU allocator).
bool is_out_of_memory_message(const std::string& message);

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_OUT_OF_MEMORY_H_
