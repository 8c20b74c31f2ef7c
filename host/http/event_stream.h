// Generations as server-sent events, in the format of OpenAI's image streaming (what the
// official SDKs read with `stream: true`):
//   event: image_generation.partial_image  {type, b64_json, created_at, size, quality,
//                                           background, output_format, partial_image_index}
//   event: image_generation.completed      {type, b64_json, created_at, size, quality,
//                                           background, output_format, usage}, one per image
//   event: image_generation.progress       fluxserve's extension, after every step:
//                                           {type, job_id, step, steps, eta_seconds}
//   event: error                           {"error": {message, type, param, code}} when the
//                                           generation fails or is cancelled
// Every event also carries job_id; partial and completed images carry seed/step extensions.
#ifndef FLX_HOST_HTTP_EVENT_STREAM_H_
#define FLX_HOST_HTTP_EVENT_STREAM_H_

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <functional>
#include <string>
#include <vector>

#include "http/generation_request.h"
#include "http/server_state.h"
#include "jobs/job.h"

namespace flx {

// The progress event of `job` now (steps from its last STEP event, the eta from run times).
FeedEvent ProgressEvent(const ServerState& state, const Job& job);

// Wires `job`'s call so that its steps add progress events and, when `request` asks for
// partial images, the pipeline's previews become partial_image events (encoded in the
// request's output format). Call before the job starts.
void FeedJobEvents(const ServerState* state, const ImagesRequest& request,
                   const std::shared_ptr<Job>& job);

// The completed events of an ended, succeeded job (one per image: its b64_json, read back
// from the stored file for response_format url), or its error event otherwise.
std::vector<FeedEvent> FinalEvents(const ServerState& state, const Job& job);

// Answers with `text/event-stream` and streams `job`'s events, from its first, until it ends
// (then its final events) or the client goes away. Returns false when the client went away.
bool StreamJobEvents(const ServerState& state, Job& job, Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response,
                     const std::function<bool()>& peer_gone);

}  // namespace flx

#endif  // FLX_HOST_HTTP_EVENT_STREAM_H_
