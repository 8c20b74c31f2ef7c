#include "model/cancellation.h"

#include <string>
#include <utility>

namespace flx::flux {
namespace {

thread_local const std::function<bool()>* t_cancelled = nullptr;

}  // namespace

CancellationScope::CancellationScope(std::function<bool()> cancelled)
    : cancelled_(std::move(cancelled)), previous_(t_cancelled) {
  if (cancelled_) t_cancelled = &cancelled_;
}

CancellationScope::~CancellationScope() { t_cancelled = previous_; }

void cancellation_point(const char* where) {
  if (t_cancelled != nullptr && (*t_cancelled)()) {
    throw Cancelled(std::string("generation cancelled ") + where);
  }
}

}  // namespace flx::flux
