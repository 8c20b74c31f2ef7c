// The host side of the ABI: the definitions of the opaque objects plugins receive
// (flx_host, flx_call, flx_result, flx_decision, flx_buffer) and the flx_host_api table.
#ifndef FLX_HOST_HOST_API_H_
#define FLX_HOST_HOST_API_H_

#include <flx/flx.h>
#include <spdlog/logger.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace flx {

// Receives every event emitted by any stage. Implemented by the stage graph, which fans
// events out to observers. Must be thread-safe.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Deliver(const flx_event& event) = 0;
};

// The table handed to every plugin. Lives for the whole process.
const flx_host_api* HostApi();

}  // namespace flx

// One stage instance's context. Owned by the stage graph; outlives the plugin instance.
struct flx_host {
  std::string stage_id;
  std::shared_ptr<spdlog::logger> logger;
  flx::EventSink* sink = nullptr;  // may be null (dry runs)
};

// One request's passage through a chain. Owned by the code serving the request.
struct flx_call {
  std::string request_id;
  std::string model;
  double deadline_epoch_s = 0;  // 0 = none
  std::atomic<bool> cancelled{false};
  // Asked (at most every few milliseconds) whether the client went away.
  std::function<bool()> peer_gone;

  // Told every event about this call after the stage graph has delivered it (a background
  // job's progress). Set before the call is used; may be empty; must be cheap.
  std::function<void(const flx_event&)> observer;

  // Previews (flx_host_api.preview_wanted / preview): whether one is wanted after a step,
  // and where it goes. Both empty: no previews.
  std::function<bool(uint32_t step, uint32_t total)> preview_wanted;
  std::function<void(uint32_t step, uint32_t total, uint32_t width, uint32_t height,
                     uint32_t channels, const uint8_t* pixels)>
      on_preview;

  // True while the call waits for its lazy model to load (StageGraph::Acquire): a job's
  // status says so.
  std::atomic<bool> waiting_for_model{false};

  // Phase timings reported by stages (FLX_EVENT_PHASE), in arrival order.
  std::mutex phases_mutex;
  std::vector<std::pair<std::string, double>> phases;

  bool IsCancelled();

 private:
  std::atomic<int64_t> last_peer_check_us_{0};
  std::atomic<bool> peer_gone_seen_{false};
};

struct flx_result {
  struct Image {
    uint32_t width = 0;
    uint32_t height = 0;
    uint32_t channels = 0;
    std::vector<uint8_t> pixels;  // tightly packed rows
    uint64_t seed = 0;
  };
  std::vector<Image> images;
  std::map<std::string, std::string> params;
};

struct flx_decision {
  bool retry = false;
  std::string reason_code;
  std::string message;
  uint32_t delay_ms = 0;
  std::vector<std::pair<std::string, std::string>> overrides;
};

struct flx_buffer {
  std::string data;
};

#endif  // FLX_HOST_HOST_API_H_
