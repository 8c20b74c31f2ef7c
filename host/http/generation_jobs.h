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
#include <optional>
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

// A new job id: "imgjob_" and 32 hex digits.
std::string NewJobId();

// Starts `request` as a job on `chain` and waits (a few seconds at most) until it has a place
// in its scheduler. A submission the chain refuses before running (queue full, model not
// ready, shutting down) or max_active_jobs refuses is answered with that error instead, and
// no job is kept. `storage` names and links the stored images of response_format url.
// `job_id`: the id to use ("" = a new one; a shared queue's worker passes the shared job's).
std::variant<std::shared_ptr<Job>, ApiError> SubmitGenerationJob(ServerState* state,
                                                                 const ModelChain& chain,
                                                                 const ImagesRequest& request,
                                                                 ImageStorage storage,
                                                                 const std::string& job_id = "");

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
// The same from a snapshot of a job (local or from the shared queue), the shape it runs and
// its place in the queue (while queued).
std::string JobSnapshotJson(const ServerState& state, const JobSnapshot& snapshot,
                            const RunShape& shape, std::optional<size_t> position,
                            bool with_result);

// A job route: what `path` asks for, and the job it names.
struct JobRoute {
  enum class Kind { kList, kGet, kCancel, kEvents };
  Kind kind = Kind::kList;
  std::string id;
};
// The route of `method` on `path` (the listing or a path under kJobsPrefix), or the 405.
std::variant<JobRoute, ApiError> ResolveJobRoute(const std::string& method,
                                                 const std::string& path);

// The listing's ?status= and ?limit= (1..100, default 20), or the 400 naming the bad one.
struct JobListQuery {
  std::optional<JobStatus> status;
  size_t limit = 20;
};
std::variant<JobListQuery, ApiError> ParseJobListQuery(const std::string& uri);

// 404 job_not_found, or job_expired (saying how long results are kept) when `expired`.
ApiError JobNotFound(const ServerState& state, const std::string& id, bool expired);
// 409 idempotency_key_reused: a key sent again with another request body.
ApiError IdempotencyKeyReused();
// 409 job_ended: a cancel of a job that has already `status`.
ApiError JobEndedError(const std::string& id, const std::string& status);
// Answers `status` with the JSON `body`.
void SendJobJson(Poco::Net::HTTPServerResponse& response, int status, const std::string& body);

// Serves GET /v1/images/generations (the listing) and everything under kJobsPrefix,
// including GET .../{id}/events (the job's server-sent events, event_stream.h); a stream
// ends early when `peer_gone` says the client left (the job runs on).
void ServeJobRoute(ServerState* state, Poco::Net::HTTPServerRequest& request,
                   Poco::Net::HTTPServerResponse& response, const std::string& path,
                   const std::function<bool()>& peer_gone);

}  // namespace flx

#endif  // FLX_HOST_HTTP_GENERATION_JOBS_H_
