#include "http/model_admin.h"

#include <Poco/URI.h>

#include <optional>

#include "http/api_errors.h"
#include "http/bearer_auth.h"
#include "http/json_writer.h"

namespace flx {
namespace {

constexpr const char* kPrefix = "/v1/models/";

struct AdminRoute {
  std::string model;
  bool load = true;  // else unload
};

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() > suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The model and action of `path`, when it has the routes' shape.
std::optional<AdminRoute> ParseRoute(const std::string& path) {
  const std::string prefix = kPrefix;
  if (path.rfind(prefix, 0) != 0) return std::nullopt;
  for (const auto& [suffix, load] : {std::pair{"/load", true}, std::pair{"/unload", false}}) {
    const std::string end = suffix;
    if (!EndsWith(path, end) || path.size() <= prefix.size() + end.size()) continue;
    std::string id;
    Poco::URI::decode(path.substr(prefix.size(), path.size() - prefix.size() - end.size()), id);
    return AdminRoute{id, load};
  }
  return std::nullopt;
}

// 403 without admin keys, 401 without a matching one; nullopt when the caller may go on.
std::optional<ApiError> CheckAdmin(const ServerState& state, const std::string& header) {
  if (state.options.admin_keys.empty()) {
    return ClientError(403, "admin_disabled",
                       "model management is off: set server.admin_keys or FLUX_ADMIN_KEYS");
  }
  if (CarriesKey(header, state.options.admin_keys)) return std::nullopt;
  ApiError e = ClientError(401, "invalid_admin_key",
                           header.empty() ? "missing admin key: send \"Authorization: Bearer KEY\""
                                          : "incorrect admin key provided");
  e.headers["WWW-Authenticate"] = "Bearer";
  return e;
}

void SendState(Poco::Net::HTTPServerResponse& response, int status, const ModelChain& chain,
               const std::string& state, const std::vector<const ModelChain*>& sharing) {
  JsonWriter w;
  w.BeginObject();
  w.Key("id").String(chain.id);
  w.Key("object").String("model");
  w.Key("state").String(state);
  w.Key("models").BeginArray();
  for (const ModelChain* other : sharing) w.String(other->id);
  w.EndArray();
  w.EndObject();
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response.setContentType("application/json");
  response.sendBuffer(w.str().data(), w.str().size());
}

void Load(ServerState* state, Poco::Net::HTTPServerResponse& response, const ModelChain& chain) {
  StageInstance* pipeline = chain.pipeline;
  const auto sharing = chain.graph->ModelsOf(pipeline);
  if (pipeline->readiness() == Readiness::kReady) {
    return SendState(response, 200, chain, "ready", sharing);
  }
  // Nothing new while it is loading already.
  if (const Status started = chain.graph->StartLoad(pipeline); !started.ok()) {
    return SendApiError(response, ClientError(409, "model_limit", started.message()));
  }
  state->logger->info("admin: model '{}' loading (stage '{}')", chain.id, pipeline->id);
  SendState(response, 202, chain, ReadinessName(pipeline->readiness()), sharing);
}

void Unload(ServerState* state, Poco::Net::HTTPServerResponse& response, const ModelChain& chain) {
  StageInstance* pipeline = chain.pipeline;
  state->logger->info("admin: model '{}' unloading (stage '{}')", chain.id, pipeline->id);
  const Status st = chain.graph->Unload(pipeline);
  if (st.code() == FLX_UNIMPLEMENTED) {
    return SendApiError(response, ClientError(400, "unsupported_operation", st.message()));
  }
  if (st.code() == FLX_FAILED_PRECONDITION) {
    return SendApiError(response, ClientError(409, "model_busy", st.message()));
  }
  if (!st.ok()) {
    return SendApiError(response, ServerError(500, "unload_failed", st.ToString()));
  }
  SendState(response, 200, chain, "unloaded", chain.graph->ModelsOf(pipeline));
}

}  // namespace

bool ServeModelAdmin(ServerState* state, Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response, const std::string& path) {
  const std::optional<AdminRoute> route = ParseRoute(path);
  if (!route) return false;
  const std::shared_ptr<StageGraph> graph = state->graph();  // holds `chain` to the end
  const ModelChain* chain = graph->FindModel(route->model);
  const bool post = request.getMethod() == "POST";
  if (chain == nullptr && !post) return false;  // maybe a model id that ends in /load
  if (auto refused = CheckAdmin(*state, request.get("Authorization", ""))) {
    SendApiError(response, *refused);
    return true;
  }
  if (!post) {
    SendApiError(response, MethodNotAllowedError(request.getMethod(), "POST"));
    return true;
  }
  if (chain == nullptr) {
    ApiError e =
        NotFoundError("the model '" + route->model + "' does not exist", "model_not_found");
    e.param = "model";
    SendApiError(response, e);
    return true;
  }
  if (route->load) {
    Load(state, response, *chain);
  } else {
    Unload(state, response, *chain);
  }
  return true;
}

}  // namespace flx
