// Errors in the OpenAI envelope: {"error":{"message","type","param","code"}} with the HTTP
// status clients (and the official SDKs' retry logic) expect.
#ifndef FLX_HOST_HTTP_API_ERRORS_H_
#define FLX_HOST_HTTP_API_ERRORS_H_

#include <Poco/Net/HTTPServerResponse.h>

#include <map>
#include <utility>
#include <vector>
#include <string>

#include "generation_service.h"
#include "status.h"

namespace flx {

struct ApiError {
  int http_status = 500;
  std::string message;
  std::string type = "server_error";  // invalid_request_error | rate_limit_error | server_error
  std::string param;                  // "" -> null
  std::string code;                   // "" -> null
  std::map<std::string, std::string> headers;  // e.g. Retry-After
  // Extra top-level members beside "error" (key -> JSON text), e.g. the fallback_reason of a
  // request whose recovery ladder ran out. Clients that only know the envelope ignore them.
  std::vector<std::pair<std::string, std::string>> extra_json;

  std::string ToJson() const;
};

ApiError BadRequest(const std::string& message, const std::string& param,
                    const std::string& code = "invalid_value");
ApiError NotFoundError(const std::string& message, const std::string& code = "not_found");
// An invalid_request_error with any 4xx `status`, `code` and `message`.
ApiError ClientError(int status, const std::string& code, const std::string& message);
// A server_error with `status` (503, 504, 499...), `code` and `message`.
ApiError ServerError(int status, const std::string& code, const std::string& message);
// 405 method_not_allowed naming the methods the path takes (also in the Allow header).
ApiError MethodNotAllowedError(const std::string& method, const std::string& allowed);

// Maps a failed generation: scheduler RESOURCE_EXHAUSTED -> 429 + Retry-After, pipeline
// RESOURCE_EXHAUSTED -> 500 out_of_memory, INVALID_ARGUMENT -> 400 (param from the error's
// "param" detail), NOT_FOUND -> 404, scheduler DEADLINE_EXCEEDED (queued past its
// queue_timeout_s) -> 503 queue_timeout + Retry-After, any other DEADLINE_EXCEEDED (the
// request's timeout_s) -> 504 deadline_exceeded,
// UNAVAILABLE -> 503, CANCELLED -> 499 (client closed), UNIMPLEMENTED -> 400
// unsupported_operation (the model cannot do what was asked), anything else -> 500.
ApiError FromGenerationError(const GenerationError& error);

// The fallback_reason object: {"code", "message", "attempts", "steps": [...]} for the rungs
// a recovery policy took (`attempts` = tries made).
std::string FallbackReasonJson(const std::vector<FallbackStep>& fallbacks, uint32_t attempts);

// Writes the error as the whole response (headers, X-Request-Id already set by the caller).
void SendApiError(Poco::Net::HTTPServerResponse& response, const ApiError& error);

}  // namespace flx

#endif  // FLX_HOST_HTTP_API_ERRORS_H_
