// The host's definition of the opaque flx_error, and conversions to and from Status.
//
// Errors cross the ABI as pointers; they are always allocated and freed by the host (through
// the flx_host_api functions below), so a plugin linked against another C++ runtime never frees
// host memory or vice versa.
#ifndef FLX_HOST_ERROR_H_
#define FLX_HOST_ERROR_H_

#include <flx/flx.h>

#include <map>
#include <string>

#include "status.h"

struct flx_error {
  flx_code code = FLX_UNKNOWN;
  std::string message;
  std::map<std::string, std::string> details;
};

namespace flx {

// A new error the caller owns (free with FreeError or flx_host_api.error_free).
flx_error* NewError(flx_code code, std::string message);
// A new error carrying `status`'s code and message; `status` must not be OK.
flx_error* ErrorFromStatus(const Status& status);
// Frees an error; accepts NULL.
void FreeError(flx_error* error);
// The status an error describes (OK for NULL). Does not take ownership.
Status StatusFromError(const flx_error* error);
// Takes ownership of `error`, frees it and returns its status.
Status ConsumeError(flx_error* error);

// The ABI's error functions, for the host API table.
flx_error* ApiErrorNew(flx_code code, const char* message);
void ApiErrorSetDetail(flx_error* error, const char* key, const char* value);
flx_code ApiErrorCode(const flx_error* error);
const char* ApiErrorMessage(const flx_error* error);
const char* ApiErrorDetail(const flx_error* error, const char* key);
void ApiErrorFree(flx_error* error);

}  // namespace flx

#endif  // FLX_HOST_ERROR_H_
