#include "error.h"

#include <new>

namespace flx {

flx_error* NewError(flx_code code, std::string message) {
  auto* e = new flx_error;
  e->code = code;
  e->message = std::move(message);
  return e;
}

flx_error* ErrorFromStatus(const Status& status) { return NewError(status.code(), status.message()); }

void FreeError(flx_error* error) { delete error; }

Status StatusFromError(const flx_error* error) {
  if (error == nullptr) return Status::Ok();
  // A plugin may hand back code 0 with an error object; that is still a failure.
  flx_code code = error->code == FLX_OK ? FLX_UNKNOWN : error->code;
  return Status(code, error->message);
}

Status ConsumeError(flx_error* error) {
  Status s = StatusFromError(error);
  FreeError(error);
  return s;
}

flx_error* ApiErrorNew(flx_code code, const char* message) {
  try {
    return NewError(code, message ? message : "");
  } catch (const std::bad_alloc&) {
    // There is no way to report this error; a static fallback would be freed later, so the
    // only safe answer is a minimal allocation attempt without the message.
    return new (std::nothrow) flx_error{FLX_RESOURCE_EXHAUSTED, {}, {}};
  }
}

void ApiErrorSetDetail(flx_error* error, const char* key, const char* value) {
  if (error == nullptr || key == nullptr) return;
  error->details[key] = value ? value : "";
}

flx_code ApiErrorCode(const flx_error* error) { return error ? error->code : FLX_OK; }

const char* ApiErrorMessage(const flx_error* error) { return error ? error->message.c_str() : ""; }

const char* ApiErrorDetail(const flx_error* error, const char* key) {
  if (error == nullptr || key == nullptr) return nullptr;
  auto it = error->details.find(key);
  return it == error->details.end() ? nullptr : it->second.c_str();
}

void ApiErrorFree(flx_error* error) { FreeError(error); }

}  // namespace flx
