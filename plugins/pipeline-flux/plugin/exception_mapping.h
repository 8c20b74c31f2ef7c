// exception_mapping.h — turns what the model code throws into the ABI's status codes, so
// clients and recovery stages see why a call failed: out of memory is RESOURCE_EXHAUSTED
// (the recovery stage may retry cheaper), a cancelled generation CANCELLED, a parameter the
// model refuses INVALID_ARGUMENT, a model that does not load FAILED_PRECONDITION.
#ifndef FLX_FLUX_PLUGIN_EXCEPTION_MAPPING_H_
#define FLX_FLUX_PLUGIN_EXCEPTION_MAPPING_H_

#include <string>

namespace flx::flux {

// Rethrows the exception in flight as an flx::Error. Call only from a catch block.
//
//   thrown                                               code                 message
//   flx::Error                                           its own              its own
//   flux::Cancelled                                      CANCELLED            "<doing>: <what>"
//   LoadError                                            FAILED_PRECONDITION  "<doing>: <what>"
//   c10::OutOfMemoryError                                RESOURCE_EXHAUSTED   <what>
//   std::bad_alloc                                       RESOURCE_EXHAUSTED   "out of memory (<what>)"
//   c10::Error or std::exception whose message
//     is_out_of_memory_message() (out_of_memory.h)       RESOURCE_EXHAUSTED   <what>
//   std::invalid_argument                                INVALID_ARGUMENT     "<doing>: <what>"
//   any other c10::Error or std::exception               INTERNAL             "<doing>: <what>"
//
// Out of memory keeps the allocator's own message, which recovery stages quote and clients
// receive when recovery gives up; `doing` ("generating", "loading the model ...") goes to the
// error's detail "during" instead. Before an out-of-memory error leaves, cached device memory
// is released (device_memory.h). c10::Error messages lose their C++ backtrace.
[[noreturn]] void rethrow_as_flx_error(const std::string& doing);

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_EXCEPTION_MAPPING_H_
