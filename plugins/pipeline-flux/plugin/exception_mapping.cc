#include "exception_mapping.h"

#include <c10/util/Exception.h>

#include <flx/plugin.hpp>
#include <new>
#include <stdexcept>

#include "device_memory.h"
#include "io/tensor.h"
#include "model/flux_pipeline.h"
#include "out_of_memory.h"

namespace flx::flux {
namespace {

[[noreturn]] void fail(flx_code code, const std::string& doing, const std::string& message) {
  throw flx::Error(code, doing + ": " + message);
}

[[noreturn]] void fail_out_of_memory(const std::string& doing, const std::string& message) {
  release_cached_device_memory();
  throw flx::Error(FLX_RESOURCE_EXHAUSTED, message).detail("during", doing);
}

[[noreturn]] void fail_by_message(const std::string& doing, const std::string& message) {
  if (is_out_of_memory_message(message)) fail_out_of_memory(doing, message);
  fail(FLX_INTERNAL, doing, message);
}

}  // namespace

void rethrow_as_flx_error(const std::string& doing) {
  try {
    throw;
  } catch (const flx::Error&) {
    throw;
  } catch (const Cancelled& e) {
    fail(FLX_CANCELLED, doing, e.what());
  } catch (const LoadError& e) {
    fail(FLX_FAILED_PRECONDITION, doing, e.what());
  } catch (const std::bad_alloc& e) {
    fail_out_of_memory(doing, std::string("out of memory (") + e.what() + ")");
  } catch (const c10::OutOfMemoryError& e) {
    fail_out_of_memory(doing, e.what_without_backtrace());
  } catch (const c10::Error& e) {
    fail_by_message(doing, e.what_without_backtrace());
  } catch (const std::invalid_argument& e) {
    fail(FLX_INVALID_ARGUMENT, doing, e.what());
  } catch (const std::exception& e) {
    fail_by_message(doing, e.what());
  }
}

}  // namespace flx::flux
