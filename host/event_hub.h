// Where every stage's events go: the observers (metrics stages) of the graph now serving, then
// the host's listeners. One hub outlives every graph a reload builds (stage_graph.h): a stage
// kept across a reload keeps its flx_host.sink, and a listener added once (the server's queue
// positions) hears the stages of every later graph too.
#ifndef FLX_HOST_EVENT_HUB_H_
#define FLX_HOST_EVENT_HUB_H_

#include <flx/flx.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "host_api.h"

namespace flx {

class StageInstance;

class EventHub : public EventSink {
 public:
  using Observers = std::vector<std::shared_ptr<StageInstance>>;

  // Forwards to every observer, then to every listener. Thread-safe; an observer replaced
  // meanwhile still gets the events whose delivery began before (it lives until then).
  void Deliver(const flx_event& event) override;
  // The metrics stages that observe from now on (a graph taking over after a reload).
  void SetObservers(Observers observers);
  // A host-side listener for every event; returns its handle for RemoveListener. A listener
  // runs on the emitting thread, maybe with a scheduler's lock held: it must be cheap and
  // must not call into a stage.
  int AddListener(std::function<void(const flx_event&)> listener);
  void RemoveListener(int handle);

 private:
  std::mutex observers_mutex_;
  std::shared_ptr<const Observers> observers_ = std::make_shared<const Observers>();
  std::mutex listeners_mutex_;
  std::map<int, std::function<void(const flx_event&)>> listeners_;
  int next_listener_ = 0;
};

}  // namespace flx

#endif  // FLX_HOST_EVENT_HUB_H_
