#include "jobs/queue_positions.h"

#include <iterator>

namespace flx {

void QueuePositions::Observe(const flx_event& event) {
  if (event.request_id == nullptr) return;
  if (event.type != FLX_EVENT_QUEUED && event.type != FLX_EVENT_ADMITTED &&
      event.type != FLX_EVENT_REJECTED) {
    return;
  }
  const std::string request_id = event.request_id;
  std::lock_guard<std::mutex> lock(mutex_);
  RemoveLocked(request_id);
  if (event.type != FLX_EVENT_QUEUED) return;
  const std::string scheduler = event.stage_id != nullptr ? event.stage_id : "";
  Queue& queue = queues_[scheduler];
  const Queue::iterator it = queue.insert(queue.end(), request_id);
  where_[request_id] = {scheduler, it};
}

void QueuePositions::RemoveLocked(const std::string& request_id) {
  const auto found = where_.find(request_id);
  if (found == where_.end()) return;
  const auto queue = queues_.find(found->second.first);
  queue->second.erase(found->second.second);
  if (queue->second.empty()) queues_.erase(queue);
  where_.erase(found);
}

std::optional<size_t> QueuePositions::Position(const std::string& request_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = where_.find(request_id);
  if (found == where_.end()) return std::nullopt;
  const Queue& queue = queues_.at(found->second.first);
  const Queue::const_iterator at = found->second.second;
  return static_cast<size_t>(std::distance(queue.cbegin(), at)) + 1;
}

size_t QueuePositions::Waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return where_.size();
}

}  // namespace flx
