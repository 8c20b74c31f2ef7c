#include "event_hub.h"

#include "stage_graph.h"

namespace flx {

void EventHub::Deliver(const flx_event& event) {
  std::shared_ptr<const Observers> observers;
  {
    std::lock_guard<std::mutex> lock(observers_mutex_);
    observers = observers_;
  }
  for (const auto& o : *observers) o->metrics()->observe(o->self, &event);
  std::lock_guard<std::mutex> lock(listeners_mutex_);
  for (const auto& [handle, listener] : listeners_) listener(event);
}

void EventHub::SetObservers(Observers observers) {
  auto replaced = std::make_shared<const Observers>(std::move(observers));
  std::lock_guard<std::mutex> lock(observers_mutex_);
  observers_.swap(replaced);
}

int EventHub::AddListener(std::function<void(const flx_event&)> listener) {
  std::lock_guard<std::mutex> lock(listeners_mutex_);
  listeners_[next_listener_] = std::move(listener);
  return next_listener_++;
}

void EventHub::RemoveListener(int handle) {
  std::lock_guard<std::mutex> lock(listeners_mutex_);
  listeners_.erase(handle);
}

}  // namespace flx
