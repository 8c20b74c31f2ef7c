// out_of_memory.h — recognising allocation failures by their messages. libtorch reports most
// of them as c10::Error (c10::OutOfMemoryError only for the CUDA caching allocator), so the
// message is what tells an allocation failure from any other error; exception_mapping.h
// reports them as RESOURCE_EXHAUSTED so a recovery stage can retry with a cheaper
// configuration.
#ifndef FLX_FLUX_PLUGIN_OUT_OF_MEMORY_H_
#define FLX_FLUX_PLUGIN_OUT_OF_MEMORY_H_

#include <string>

namespace flx::flux {

// True when `message` (an exception's what()) reports an allocation failure: it contains,
// ignoring case,
//   "out of memory"          CUDA ("CUDA out of memory. Tried to allocate ..."), MPS ("MPS
//                            backend out of memory"), cudaErrorMemoryAllocation ("CUDA error:
//                            out of memory") and injected failures (fault_injection.h);
//   "can't allocate memory"  the CPU allocator when posix_memalign fails
//                            ("DefaultCPUAllocator: can't allocate memory: you tried to
//                            allocate N bytes");
//   "not enough memory"      the CPU allocator of later libtorch versions when it gets no
//                            pointer back ("DefaultCPUAllocator: not enough memory: ...");
//   "could not allocate memory"  c10's tensor metadata ("Could not allocate memory for Tensor
//                            SizesAndStrides!");
//   "cannot allocate memory" strerror(ENOMEM), as from a failed mmap or thread start.
bool is_out_of_memory_message(const std::string& message);

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_OUT_OF_MEMORY_H_
