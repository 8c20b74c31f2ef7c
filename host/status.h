// Status and StatusOr: how host code reports failure without exceptions.
//
// A Status is OK or carries an flx_code and a message; StatusOr<T> is a value or a non-OK
// Status. Both are cheap to move. Host functions that can fail return one of these; code that
// calls into third-party libraries which throw (Poco, yaml-cpp) converts at that edge.
#ifndef FLX_HOST_STATUS_H_
#define FLX_HOST_STATUS_H_

#include <flx/flx.h>

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace flx {

class Status {
 public:
  Status() = default;  // OK
  Status(flx_code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == FLX_OK; }
  flx_code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "INVALID_ARGUMENT: message" (or "OK").
  std::string ToString() const;

 private:
  flx_code code_ = FLX_OK;
  std::string message_;
};

// The canonical name of a code, e.g. "RESOURCE_EXHAUSTED".
const char* CodeName(flx_code code);

inline Status InvalidArgument(std::string m) { return Status(FLX_INVALID_ARGUMENT, std::move(m)); }
inline Status NotFound(std::string m) { return Status(FLX_NOT_FOUND, std::move(m)); }
inline Status FailedPrecondition(std::string m) {
  return Status(FLX_FAILED_PRECONDITION, std::move(m));
}
inline Status Internal(std::string m) { return Status(FLX_INTERNAL, std::move(m)); }
inline Status Unavailable(std::string m) { return Status(FLX_UNAVAILABLE, std::move(m)); }
inline Status ResourceExhausted(std::string m) {
  return Status(FLX_RESOURCE_EXHAUSTED, std::move(m));
}

template <class T>
class StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace flx

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define FLX_RETURN_IF_ERROR(expr)           \
  do {                                      \
    ::flx::Status _flx_status = (expr);     \
    if (!_flx_status.ok()) return _flx_status; \
  } while (0)

#endif  // FLX_HOST_STATUS_H_
