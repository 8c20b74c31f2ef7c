// The events the HTTP layer itself emits (stage "http"): one place fills their fields, for
// synchronous requests and background jobs alike.
#ifndef FLX_HOST_HTTP_HOST_EVENTS_H_
#define FLX_HOST_HTTP_HOST_EVENTS_H_

#include <flx/flx.h>

#include <cstdint>
#include <string>

#include "stage_graph.h"

namespace flx {

// COMPLETED: a generation was answered with HTTP `status`; `error_code` "" on success (the
// event borrows it: keep it alive until delivered).
flx_event CompletedEvent(int status, const std::string& error_code, double seconds,
                         uint32_t images);
// PHASE `name` (FLX_PHASE_*) took `seconds`.
flx_event PhaseEvent(const char* name, double seconds);

// Delivers `event` to the observers as stage "http" about `request_id` and `model`.
void DeliverHostEvent(EventSink* events, flx_event event, const std::string& request_id,
                      const std::string& model);

}  // namespace flx

#endif  // FLX_HOST_HTTP_HOST_EVENTS_H_
