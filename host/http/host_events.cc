#include "http/host_events.h"

namespace flx {

flx_event CompletedEvent(int status, const std::string& error_code, double seconds,
                         uint32_t images) {
  flx_event e{};
  e.type = FLX_EVENT_COMPLETED;
  e.code = status;
  e.name = error_code.empty() ? nullptr : error_code.c_str();
  e.value = seconds;
  e.step = images;
  return e;
}

flx_event PhaseEvent(const char* name, double seconds) {
  flx_event e{};
  e.type = FLX_EVENT_PHASE;
  e.name = name;
  e.value = seconds;
  return e;
}

void DeliverHostEvent(EventSink* events, flx_event event, const std::string& request_id,
                      const std::string& model) {
  event.struct_size = sizeof(event);
  event.request_id = request_id.c_str();
  event.model = model.c_str();
  event.stage_id = "http";
  events->Deliver(event);
}

}  // namespace flx
