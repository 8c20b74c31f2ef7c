#include "http/read_deadlines.h"

#include <sys/socket.h>

namespace flx {

ReadDeadlines::ReadDeadlines() : watcher_([this] { Watch(); }) {}

ReadDeadlines::~ReadDeadlines() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  watcher_.join();
}

ReadDeadlines::Guard::Guard(Guard&& other) noexcept : owner_(other.owner_), id_(other.id_) {
  other.owner_ = nullptr;
}

bool ReadDeadlines::Guard::Disarm() {
  if (owner_ == nullptr) return false;
  const bool expired = owner_->Disarm(id_);
  owner_ = nullptr;
  return expired;
}

bool ReadDeadlines::Guard::expired() const { return owner_ != nullptr && owner_->Expired(id_); }

ReadDeadlines::Guard ReadDeadlines::Arm(int fd, double seconds) {
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    id = next_id_++;
    entries_[id] = Entry{fd, deadline};
  }
  wake_.notify_all();
  return Guard(this, id);
}

uint64_t ReadDeadlines::expired_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return expired_count_;
}

bool ReadDeadlines::Disarm(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  const bool expired = it->second.expired;
  entries_.erase(it);
  return expired;
}

bool ReadDeadlines::Expired(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  return it != entries_.end() && it->second.expired;
}

void ReadDeadlines::Watch() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    Clock::time_point next = Clock::time_point::max();
    const Clock::time_point now = Clock::now();
    for (auto& [id, entry] : entries_) {
      if (entry.expired) continue;
      if (entry.deadline <= now) {
        // Under the lock: the owner cannot disarm, and so cannot close the descriptor, now.
        ::shutdown(entry.fd, SHUT_RD);
        entry.expired = true;
        ++expired_count_;
      } else if (entry.deadline < next) {
        next = entry.deadline;
      }
    }
    if (next == Clock::time_point::max()) {
      wake_.wait(lock);
    } else {
      wake_.wait_until(lock, next);
    }
  }
}

}  // namespace flx
