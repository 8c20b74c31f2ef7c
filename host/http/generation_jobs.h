// Background generations over HTTP: POST /v1/images/generations with "background": true
// makes a job (202), and
//   GET  /v1/images/generations                 lists jobs, newest first (?status=, ?limit=)
//   GET  /v1/images/generations/{id}            one job; with its result once it has ended
//   POST /v1/images/generations/{id}/cancel     stops it at the pipeline's next step
//   GET  /v1/images/generations/{id}/events     its server-sent events (event_stream.h)
// A job object: {id, object: "image.generation.job", status, model, queue_position,
// progress: {step, steps}, eta_seconds, created_at, started_at, finished_at,
// cancel_requested}; a succeeded job also carries every member of the synchronous response
// (created, data, parameters, timings, ...), a failed or cancelled one the OpenAI `error`.
#ifndef FLX_HOST_HTTP_GENERATION_JOBS_H_
#define FLX_HOST_HTTP_GENERATION_JOBS_H_

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "http/api_errors.h"
#include "http/generation_render.h"
#include "http/generation_request.h"
#include "http/server_state.h"
#include "jobs/job.h"

namespace flx {

// The path the job routes live under, and whether `path` is one of them.
constexpr const char* kJobsPrefix = "/v1/images/generations/";

// Starts `request` as a job on `chain` and waits (a few seconds at most) until it has a place
// in its scheduler. A submission the chain refuses before running (queue full, model not
// ready, shutting down) or max_active_jobs refuses is answered with that error instead, and
// no job is kept. `storage` names and links the stored images of response_format url.
std::variant<std::shared_ptr<Job>, ApiError> SubmitGenerationJob(ServerState* state,
                                                                 const ModelChain& chain,
                                                                 const ImagesRequest& request,
                                                                 ImageStorage storage);

// A job found or started for an Idempotency-Key.
struct KeyedJob {
  std::shared_ptr<Job> job;
  bool replayed = false;  // the key's job existed: this request joins it
};

// Starts `request` as a job once per key: a retry with the same `scoped_key` and the same
// `fingerprint` (the request body) gets the key's job, another body is 409
// idempotency_key_reused; a key whose job has expired starts afresh. Refusals as above
// leave the key free.
std::variant<KeyedJob, ApiError> SubmitGenerationJobOnce(
    ServerState* state, const ModelChain& chain, const ImagesRequest& request, ImageStorage storage,
    const std::string& scoped_key, const std::string& fingerprint);

// The job object (see above); `with_result` adds the response or the error of an ended job.
std::string JobJson(const ServerState& state, const Job& job, bool with_result);

// Serves GET /v1/images/generations (the listing) and everything under kJobsPrefix,
// including GET .../{id}/events (the job's server-sent events, event_stream.h); a stream
// ends early when `peer_gone` says the client left (the job runs on).
void ServeJobRoute(ServerState* state, Poco::Net::HTTPServerRequest& request,
                   Poco::Net::HTTPServerResponse& response, const std::string& path,
                   const std::function<bool()>& peer_gone);

}  // namespace flx

#endif  // FLX_HOST_HTTP_GENERATION_JOBS_H_
