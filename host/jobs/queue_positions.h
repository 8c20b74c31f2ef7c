// Where each waiting request stands in its scheduler's queue, learnt from the events every
// scheduler emits (flx.h): QUEUED when a request joins a queue, ADMITTED when it leaves it
// to run, REJECTED when it leaves it refused (timeout, cancellation, shutdown). A scheduler
// emits a queue's events in queue order (the fifo stage does so under its lock), so the
// order of QUEUED events is the queue's order, and a request's position is 1 + the number
// of requests that joined the same scheduler's queue before it and are still waiting. A
// request admitted ahead of its turn (the fifo stage passes over one whose pipeline is
// busy) simply leaves the list, so the positions behind it shrink.
#ifndef FLX_HOST_JOBS_QUEUE_POSITIONS_H_
#define FLX_HOST_JOBS_QUEUE_POSITIONS_H_

#include <flx/flx.h>

#include <cstddef>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace flx {

class QueuePositions {
 public:
  // Takes every event of every stage; ignores those that are not queue events or carry no
  // request id. Thread-safe.
  void Observe(const flx_event& event);
  // 1 for the first waiting request; nullopt when the request is not waiting in any queue.
  std::optional<size_t> Position(const std::string& request_id) const;
  // Requests waiting, over all queues.
  size_t Waiting() const;

 private:
  using Queue = std::list<std::string>;
  void RemoveLocked(const std::string& request_id);

  mutable std::mutex mutex_;
  std::map<std::string, Queue> queues_;  // by scheduler stage id
  // Where each waiting request is: its scheduler and its place in that list.
  std::map<std::string, std::pair<std::string, Queue::iterator>> where_;
};

}  // namespace flx

#endif  // FLX_HOST_JOBS_QUEUE_POSITIONS_H_
