// POST /v1/models/{id}/load and POST /v1/models/{id}/unload: a model's pipeline loaded or
// unloaded at run time, for holders of an admin key (server.admin_keys, FLUX_ADMIN_KEYS),
// which are separate from the API keys. Without admin keys configured these routes answer
// 403: model management is off unless an operator turns it on.
//
// load answers 200 {"id", "state": "ready"} when the model is loaded already, else starts
// loading and answers 202 {"id", "state": "loading"} (GET /v1/models/{id} shows when it is
// ready or why it failed). unload waits for the generations using the model to end, gives
// back its memory and answers 200 {"id", "state": "unloaded", "models": [ids sharing the
// pipeline]}; 409 model_busy while it is loading; 400 unsupported_operation when the
// pipeline cannot unload.
#ifndef FLX_HOST_HTTP_MODEL_ADMIN_H_
#define FLX_HOST_HTTP_MODEL_ADMIN_H_

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <string>

#include "http/server_state.h"

namespace flx {

// Serves `path` when it is one of the routes above (true), else leaves the request alone.
bool ServeModelAdmin(ServerState* state, Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response, const std::string& path);

}  // namespace flx

#endif  // FLX_HOST_HTTP_MODEL_ADMIN_H_
