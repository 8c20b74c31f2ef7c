// Request routing: maps method + path to the handler for each endpoint of the HTTP contract.
#ifndef FLX_HOST_HTTP_HANDLERS_H_
#define FLX_HOST_HTTP_HANDLERS_H_

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include "http/server_state.h"

namespace flx {

// A factory whose handlers serve:
//   POST /v1/images/generations      GET /v1/models         GET /v1/models/{id}
//   GET  /v1/images/files/{name}     GET /healthz           GET /readyz
//   GET  <anything an observer (metrics) stage serves, e.g. /metrics>
// Known paths with another method answer 405; everything else 404, in the OpenAI envelope.
Poco::Net::HTTPRequestHandlerFactory* NewRouter(ServerState* state);

}  // namespace flx

#endif  // FLX_HOST_HTTP_HANDLERS_H_
