#include "http/api_errors.h"

#include <cmath>
#include <sstream>

#include "http/json_writer.h"

namespace flx {

std::string ApiError::ToJson() const {
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject();
  w.Key("message").String(message);
  w.Key("type").String(type);
  w.Key("param");
  param.empty() ? w.Null() : w.String(param);
  w.Key("code");
  code.empty() ? w.Null() : w.String(code);
  w.EndObject();
  for (const auto& [key, json] : extra_json) w.Key(key).Raw(json);
  w.EndObject();
  return w.Take();
}

std::string FallbackReasonJson(const std::vector<FallbackStep>& fallbacks, uint32_t attempts) {
  JsonWriter w;
  w.BeginObject();
  w.Key("code").String(fallbacks.empty() ? "" : fallbacks.back().reason_code);
  std::string message;
  for (const auto& f : fallbacks) message += (message.empty() ? "" : "; ") + f.message;
  w.Key("message").String(message);
  w.Key("attempts").UInt(attempts);
  w.Key("steps").BeginArray();
  for (const auto& f : fallbacks) {
    w.BeginObject();
    w.Key("attempt").UInt(f.attempt);
    w.Key("stage").String(f.stage_id);
    w.Key("code").String(f.reason_code);
    w.Key("message").String(f.message);
    w.Key("failure").String(f.failure);
    w.Key("overrides").BeginObject();
    for (const auto& [k, v] : f.overrides) w.Key(k).String(v);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.Take();
}

ApiError BadRequest(const std::string& message, const std::string& param, const std::string& code) {
  ApiError e;
  e.http_status = 400;
  e.message = message;
  e.type = "invalid_request_error";
  e.param = param;
  e.code = code;
  return e;
}

ApiError ServerError(int status, const std::string& code, const std::string& message) {
  ApiError e;
  e.http_status = status;
  e.code = code;
  e.message = message;
  return e;
}

ApiError MethodNotAllowedError(const std::string& method, const std::string& allowed) {
  ApiError e;
  e.http_status = 405;
  e.type = "invalid_request_error";
  e.code = "method_not_allowed";
  e.message = "method " + method + " is not allowed here; use " + allowed;
  e.headers["Allow"] = allowed;
  return e;
}

ApiError ClientError(int status, const std::string& code, const std::string& message) {
  ApiError e;
  e.http_status = status;
  e.type = "invalid_request_error";
  e.code = code;
  e.message = message;
  return e;
}

ApiError NotFoundError(const std::string& message, const std::string& code) {
  ApiError e;
  e.http_status = 404;
  e.message = message;
  e.type = "invalid_request_error";
  e.code = code;
  return e;
}

namespace {

std::string RetryAfterSeconds(const std::map<std::string, std::string>& details) {
  auto it = details.find("retry_after_ms");
  double ms = 1000;
  if (it != details.end()) {
    try {
      ms = std::stod(it->second);
    } catch (...) {
      ms = 1000;
    }
  }
  long s = std::lround(std::ceil(std::max(ms, 1.0) / 1000.0));
  return std::to_string(std::max(s, 1L));
}

}  // namespace

ApiError FromGenerationError(const GenerationError& error) {
  ApiError e;
  e.message = error.status.message();
  if (!error.fallbacks.empty()) {
    e.extra_json.emplace_back("fallback_reason",
                              FallbackReasonJson(error.fallbacks, error.attempts));
  }
  auto param = error.details.find("param");
  if (param != error.details.end()) e.param = param->second;
  // How each failure reads over HTTP; RESOURCE_EXHAUSTED depends on who said it.
  struct Mapping {
    int status;
    const char* type;
    const char* code;
    bool retry_after;
  };
  Mapping m{500, "server_error", "internal_error", false};
  switch (error.status.code()) {
    case FLX_INVALID_ARGUMENT:
    case FLX_OUT_OF_RANGE:
      m = {400, "invalid_request_error", "invalid_value", false};
      break;
    case FLX_NOT_FOUND:
      m = {404, "invalid_request_error", "not_found", false};
      break;
    case FLX_RESOURCE_EXHAUSTED:
      m = error.failed_kind == FLX_KIND_SCHEDULER
              ? Mapping{429, "rate_limit_error", "queue_full", true}
              : Mapping{500, "server_error", "out_of_memory", false};
      break;
    case FLX_DEADLINE_EXCEEDED:
      // The scheduler's own queue limit is an overload (retry later); the request's deadline
      // is the gateway-style timeout.
      m = error.failed_kind == FLX_KIND_SCHEDULER && !error.details.count("deadline")
              ? Mapping{503, "server_error", "queue_timeout", true}
              : Mapping{504, "server_error", "deadline_exceeded", false};
      break;
    case FLX_UNAVAILABLE:
      m = {503, "server_error", "unavailable", false};
      break;
    case FLX_CANCELLED:
      m = {499, "server_error", "cancelled", false};
      break;
    case FLX_UNIMPLEMENTED:
      // The model cannot do what was asked (e.g. an edit): the client's request to change.
      m = {400, "invalid_request_error", "unsupported_operation", false};
      break;
    default:
      break;
  }
  e.http_status = m.status;
  e.type = m.type;
  e.code = m.code;
  if (m.retry_after) e.headers["Retry-After"] = RetryAfterSeconds(error.details);
  return e;
}

void SendApiError(Poco::Net::HTTPServerResponse& response, const ApiError& error) {
  // setStatus() alone keeps the default reason "OK" ("HTTP/1.1 404 OK"); the standard reason
  // goes with the code, and 499, which no standard defines, gets nginx's.
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(error.http_status));
  if (error.http_status == 499) response.setReason("Client Closed Request");
  for (const auto& [k, v] : error.headers) response.set(k, v);
  response.setContentType("application/json");
  std::string body = error.ToJson();
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  // Flushed here, not when Poco destroys the stream: shutdown waits for this handler only.
  response.send() << body << std::flush;
}

}  // namespace flx
