#include "jobs/idempotency_keys.h"

#include <algorithm>

namespace flx {

IdempotencyKeys::Claim IdempotencyKeys::ClaimKey(const std::string& key,
                                                 const std::string& fingerprint) {
  std::unique_lock<std::mutex> lock(mutex_);
  bound_cv_.wait(lock, [&] {
    const auto found = entries_.find(key);
    return found == entries_.end() || !found->second.job_id.empty();
  });
  const auto found = entries_.find(key);
  if (found == entries_.end()) {
    entries_[key] = Entry{fingerprint, ""};
    order_.push_back(key);
    TrimLocked();
    return Claim{Claim::Kind::kNew, ""};
  }
  if (found->second.fingerprint != fingerprint) return Claim{Claim::Kind::kMismatch, ""};
  return Claim{Claim::Kind::kExisting, found->second.job_id};
}

void IdempotencyKeys::Bind(const std::string& key, const std::string& job_id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = entries_.find(key);
    if (found != entries_.end()) found->second.job_id = job_id;
  }
  bound_cv_.notify_all();
}

void IdempotencyKeys::Release(const std::string& key) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.erase(key);
    order_.erase(std::remove(order_.begin(), order_.end(), key), order_.end());
  }
  bound_cv_.notify_all();
}

void IdempotencyKeys::TrimLocked() {
  while (order_.size() > max_keys_) {
    // Only bound keys go: an unbound one has a request waiting on it.
    const auto oldest_bound = std::find_if(order_.begin(), order_.end(), [&](const auto& k) {
      return !entries_.at(k).job_id.empty();
    });
    if (oldest_bound == order_.end()) return;
    entries_.erase(*oldest_bound);
    order_.erase(oldest_bound);
  }
}

}  // namespace flx
