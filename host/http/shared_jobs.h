// Generations through the shared job queue (the graph's `job_queue:`, e.g. Redis): every
// request becomes a job in the queue, any replica's workers run it (shared_job_workers.h),
// and any replica answers for it:
//   synchronous   the request waits for its job's end and answers with its result; a client
//                 that leaves cancels the job
//   background    202 with the job object, as without a shared queue
//   stream        the job's events from the queue, as server-sent events
// and the job routes (list, get, cancel, events) read the queue. The job objects, events and
// errors are those of the in-process jobs (generation_jobs.h), so clients see no difference;
// the queue's own failures are 503 queue_unavailable (with Retry-After) and 429 queue_full.
#ifndef FLX_HOST_HTTP_SHARED_JOBS_H_
#define FLX_HOST_HTTP_SHARED_JOBS_H_

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>

#include "http/api_errors.h"
#include "http/edit_request.h"
#include "http/generation_request.h"
#include "http/server_state.h"
#include "jobs/shared_queue.h"

namespace flx {

// What a worker needs to run a job: the request body as the client sent it, the seed drawn
// for it, its deadline (Unix seconds, 0 = none) and the base of its image links; for an edit,
// its multipart form (fields and files: the worker decodes the images itself).
struct SharedJobPayload {
  std::string body;
  uint64_t seed = 0;
  double deadline = 0;
  std::string base_url;
  std::optional<EditForm> edit;
};
std::string EncodePayload(const SharedJobPayload& payload);
// The payload, or nullopt when `text` is not one.
std::optional<SharedJobPayload> DecodePayload(const std::string& text);

// The HTTP error for a failed call to the queue (`failure`: what the call said besides).
ApiError QueueError(const Status& status, const QueueFailure& failure, const std::string& job_id);

// Adds `request` (parsed from `body`, its seed drawn; an edit also from `edit`) to the queue
// as a job of `chain`; returns its id, or the error to answer with (429 queue_full, 503
// queue_unavailable).
std::variant<std::string, ApiError> SubmitSharedJob(ServerState* state, const ModelChain& chain,
                                                    const ImagesRequest& request,
                                                    const std::string& body,
                                                    const std::string& base_url,
                                                    const EditForm* edit = nullptr);

// The request a worker runs from `payload`: its body parsed as the front parsed it (an edit's
// form, images decoded, or a generation's JSON), with the seed the front drew.
std::variant<ImagesRequest, ApiError> RequestOfPayload(const SharedJobPayload& payload);

// A job found or started for an Idempotency-Key.
struct SharedKeyedJob {
  std::string job_id;
  bool replayed = false;  // the key's job existed: this request joins it
};

// Submits `request` once per key, as SubmitGenerationJobOnce does in process: the job's id is
// derived from `scoped_key` (the caller's API key and the Idempotency-Key), so a retry on any
// replica finds the job; the same body joins it, another body is 409 idempotency_key_reused;
// a key whose job has expired starts afresh.
std::variant<SharedKeyedJob, ApiError> SubmitSharedJobOnce(
    ServerState* state, const ModelChain& chain, const ImagesRequest& request,
    const std::string& body, const std::string& base_url, const std::string& scoped_key,
    const EditForm* edit = nullptr);

// The job object of a shared job (as JobJson), or the error (404 job_not_found/job_expired).
std::variant<std::string, ApiError> SharedJobJson(ServerState* state, const std::string& job_id,
                                                  bool with_result);

// Waits for a shared job to end while `peer_gone` says the client is there; returns its final
// record, nullopt when the client left (the job is then cancelled, unless `keep_when_gone`:
// a keyed job waits for its retry), or the error: 503 shutting_down when `stop` says this
// server stops waiting (the job goes on in the queue).
// Past `deadline` (Unix seconds, 0 = none) the job is cancelled and the answer is 504.
std::variant<std::optional<QueueRecord>, ApiError> WaitSharedJob(
    ServerState* state, const std::string& job_id, const std::function<bool()>& peer_gone,
    const std::function<bool()>& stop, bool keep_when_gone = false, double deadline = 0);

// Answers with text/event-stream: the job's events from its first until it ends. Returns false
// when the client went away.
bool StreamSharedJobEvents(ServerState* state, const std::string& job_id,
                           Poco::Net::HTTPServerResponse& response,
                           const std::function<bool()>& peer_gone);

// The job routes (listing and everything under kJobsPrefix) served from the queue.
void ServeSharedJobRoute(ServerState* state, Poco::Net::HTTPServerRequest& request,
                         Poco::Net::HTTPServerResponse& response, const std::string& path,
                         const std::function<bool()>& peer_gone);

}  // namespace flx

#endif  // FLX_HOST_HTTP_SHARED_JOBS_H_
