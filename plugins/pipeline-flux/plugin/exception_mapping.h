// exception_mapping.h — turns what the model code throws into the ABI's status codes, so
// clients and recovery stages see why a call failed: out of memory is RESOURCE_EXHAUSTED
// (the recovery stage may retry cheaper), a cancelled generation CANCELLED, a parameter the
// model refuses INVALID_ARGUMENT, a model that does not load FAILED_PRECONDITION.
#ifndef FLX_FLUX_PLUGIN_EXCEPTION_MAPPING_H_
#define FLX_FLUX_PLUGIN_EXCEPTION_MAPPING_H_

#include <string>

namespace flx::flux {

// Rethrows the exception in flight as an flx::Error whose message starts with `doing`
// ("generating", "loading the model"): flx::Error as it is; flux::Cancelled -> CANCELLED;
// LoadError -> FAILED_PRECONDITION; std::bad_alloc and exceptions whose message
// is_out_of_memory_message() -> RESOURCE_EXHAUSTED; std::invalid_argument -> INVALID_ARGUMENT;
// anything else INTERNAL. c10::Error messages lose their C++ backtrace. Call only from a
// catch block.
[[noreturn]] void rethrow_as_flx_error(const std::string& doing);

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_EXCEPTION_MAPPING_H_
