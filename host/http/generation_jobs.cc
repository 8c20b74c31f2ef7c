#include "http/generation_jobs.h"

#include <Poco/NumberParser.h>
#include <Poco/URI.h>
#include <Poco/UUIDGenerator.h>

#include <chrono>
#include <cmath>
#include <utility>

#include "http/event_stream.h"
#include "http/host_events.h"
#include "http/json_writer.h"

namespace flx {
namespace {

using Clock = std::chrono::steady_clock;
using Poco::Net::HTTPResponse;

constexpr double kPlaceTimeoutS = 5;  // a scheduler that emits no QUEUED event is not waited on
constexpr size_t kDefaultListLimit = 20;
constexpr size_t kMaxListLimit = 100;

}  // namespace

std::string NewJobId() {
  std::string uuid = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
  std::string hex;
  for (char c : uuid) {
    if (c != '-') hex += c;
  }
  return "imgjob_" + hex;
}

namespace {

// The members of a JSON object's text, without its braces ("" for "{}").
std::string InnerMembers(const std::string& object) {
  const size_t open = object.find('{');
  const size_t close = object.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close <= open) return "";
  return object.substr(open + 1, close - open - 1);
}

void EmitHostEvent(ServerState* state, flx_event event, const Job& job) {
  DeliverHostEvent(state->events.get(), event, job.id(), job.model());
}

void EmitCompleted(ServerState* state, const Job& job, int http_status, const std::string& code,
                   double seconds, uint32_t images) {
  EmitHostEvent(state, CompletedEvent(http_status, code, seconds, images), job);
}

// The error of a job that failed before any try ran, kept for the submitter to answer with.
using Refusal = std::shared_ptr<std::optional<ApiError>>;

// JOB_ENDED with the job's final status, result status and run time.
void EmitJobEnded(ServerState* state, const Job& job) {
  const JobSnapshot ended = job.Snapshot(false);
  flx_event e{};
  e.type = FLX_EVENT_JOB_ENDED;
  e.name = JobStatusName(ended.status);
  e.code = ended.status == JobStatus::kSucceeded ? 200 : ended.error_status;
  if (ended.started_at && ended.finished_at) e.value = *ended.finished_at - *ended.started_at;
  EmitHostEvent(state, e, job);
}

void FailJob(ServerState* state, Job& job, const ApiError& error, Clock::time_point start) {
  const bool cancelled = job.Snapshot(false).cancel_requested && error.http_status == 499;
  job.Fail(cancelled ? JobStatus::kCancelled : JobStatus::kFailed, error.http_status,
           error.ToJson());
  const std::chrono::duration<double> seconds = Clock::now() - start;
  EmitCompleted(state, job, error.http_status, error.code, seconds.count(), 0);
}

// The job's worker: the generation, then the images encoded (and stored) and the response
// rendered into the job, as a synchronous request would have answered.
void RunJob(ServerState* state, const ModelChain* chain, const ImagesRequest& request,
            const ImageStorage& storage, const Refusal& refusal, Job& job) {
  const Clock::time_point start = Clock::now();
  flx_call& call = job.call();
  state->Register(&call);
  auto [output, failure] = state->service.Run(*chain, request.input, &call);
  if (failure) {
    const ApiError error = FromGenerationError(*failure);
    // Set before the job ends: the submitter reads it after seeing the end (the job's mutex
    // orders the two).
    if (failure->attempts == 0) *refusal = error;
    FailJob(state, job, error, start);
  } else {
    auto on_phase = [state, &job](const char* name, double seconds) {
      EmitHostEvent(state, PhaseEvent(name, seconds), job);
    };
    auto encoded = EncodeAndStore(request, chain->id, *output, storage, on_phase);
    if (auto* error = std::get_if<ApiError>(&encoded)) {
      FailJob(state, job, *error, start);
    } else {
      std::string json = RenderGeneration(request, chain->id, *output,
                                          std::get<EncodedImages>(encoded), call, start);
      const JobSnapshot progress = job.Snapshot(false);
      state->run_times.Record(job.shape(), progress.steps, progress.step_seconds,
                              output->generate_seconds);
      job.Succeed(std::move(json));
      const std::chrono::duration<double> seconds = Clock::now() - start;
      EmitCompleted(state, job, 200, "", seconds.count(), uint32_t(output->images.size()));
    }
  }
  EmitJobEnded(state, job);
  state->Unregister(&call);
}


ApiError TooManyJobs(const std::string& why) {
  ApiError e;
  e.http_status = 429;
  e.type = "rate_limit_error";
  e.code = "too_many_jobs";
  e.message = "cannot start another background job: " + why;
  e.headers["Retry-After"] = "1";
  return e;
}

std::optional<double> EtaSeconds(const ServerState& state, const RunShape& shape,
                                 const JobSnapshot& snapshot, std::optional<size_t> position) {
  if (snapshot.status == JobStatus::kRunning) {
    return state.run_times.Remaining(shape, snapshot.step, snapshot.steps, snapshot.step_seconds);
  }
  if (snapshot.status == JobStatus::kQueued) {
    return state.run_times.Waiting(shape, position.value_or(0));
  }
  return std::nullopt;
}

void WriteOptionalTime(JsonWriter& w, const char* key, std::optional<double> unix_seconds) {
  w.Key(key);
  if (unix_seconds) {
    w.Int(static_cast<int64_t>(std::floor(*unix_seconds)));
  } else {
    w.Null();
  }
}


}  // namespace

std::variant<std::shared_ptr<Job>, ApiError> SubmitGenerationJob(ServerState* state,
                                                                 const ModelChain& chain,
                                                                 const ImagesRequest& request,
                                                                 ImageStorage storage,
                                                                 const std::string& job_id) {
  RunShape shape{chain.id, request.input.width, request.input.height, request.input.steps,
                 request.input.n};
  const double now = UnixNow();
  auto job =
      std::make_shared<Job>(job_id.empty() ? NewJobId() : job_id, std::move(shape), now);
  job->call().deadline_epoch_s = state->options.DeadlineFor(request.timeout_s, now);
  FeedJobEvents(state, request, job);
  storage.request_id = job->id();
  // The job holds its chain's graph: a reload meanwhile does not take it away.
  std::shared_ptr<const ModelChain> chain_ptr(chain.graph->shared_from_this(), &chain);
  auto refusal = std::make_shared<std::optional<ApiError>>();
  std::optional<std::string> refused =
      state->jobs.Start(job, [state, chain_ptr, request, storage, refusal](Job& running) {
        RunJob(state, chain_ptr.get(), request, storage, refusal, running);
      });
  if (refused) return TooManyJobs(*refused);
  job->WaitPlaced(kPlaceTimeoutS);
  const JobSnapshot placed = job->Snapshot(false);
  if (placed.status == JobStatus::kFailed && refusal->has_value()) {
    // Refused before it ran: the client hears the refusal, as a synchronous caller would.
    state->jobs.Forget(job->id());
    return **refusal;
  }
  return job;
}

std::variant<KeyedJob, ApiError> SubmitGenerationJobOnce(
    ServerState* state, const ModelChain& chain, const ImagesRequest& request, ImageStorage storage,
    const std::string& scoped_key, const std::string& fingerprint) {
  // Twice at most: the second time after dropping a key whose job has expired.
  for (int round = 0; round < 2; ++round) {
    const IdempotencyKeys::Claim claim = state->idempotency.ClaimKey(scoped_key, fingerprint);
    if (claim.kind == IdempotencyKeys::Claim::Kind::kMismatch) return IdempotencyKeyReused();
    if (claim.kind == IdempotencyKeys::Claim::Kind::kExisting) {
      if (std::shared_ptr<Job> job = state->jobs.Find(claim.job_id).job) {
        flx_event replayed{};
        replayed.type = FLX_EVENT_REPLAYED;
        EmitHostEvent(state, replayed, *job);
        return KeyedJob{job, true};
      }
      state->idempotency.Release(scoped_key);
      continue;
    }
    auto submitted = SubmitGenerationJob(state, chain, request, storage);
    if (auto* error = std::get_if<ApiError>(&submitted)) {
      state->idempotency.Release(scoped_key);
      return *error;
    }
    std::shared_ptr<Job> job = std::get<std::shared_ptr<Job>>(submitted);
    state->idempotency.Bind(scoped_key, job->id());
    return KeyedJob{job, false};
  }
  return IdempotencyKeyReused();  // another request claimed the freed key with another body meanwhile
}

ApiError JobNotFound(const ServerState& state, const std::string& id, bool expired) {
  if (!expired) {
    ApiError e = NotFoundError("no background job '" + id + "'", "job_not_found");
    return e;
  }
  return NotFoundError("the background job '" + id + "' has expired: results are kept for " +
                           std::to_string(static_cast<int64_t>(state.options.jobs.ttl_s)) +
                           " s after a job ends (server.job_ttl_s), and at most " +
                           std::to_string(state.options.jobs.max_kept) +
                           " ended jobs (server.max_kept_jobs)",
                       "job_expired");
}

std::string JobJson(const ServerState& state, const Job& job, bool with_result) {
  const JobSnapshot s = job.Snapshot(with_result);
  std::optional<size_t> position;
  if (s.status == JobStatus::kQueued) position = state.queue_positions.Position(s.id);
  return JobSnapshotJson(state, s, job.shape(), position, with_result);
}

std::string JobSnapshotJson(const ServerState& state, const JobSnapshot& s, const RunShape& shape,
                            std::optional<size_t> position, bool with_result) {
  JsonWriter w;
  w.BeginObject();
  w.Key("id").String(s.id);
  w.Key("object").String("image.generation.job");
  w.Key("status").String(JobStatusName(s.status));
  w.Key("queue_position");
  if (position.has_value()) {
    w.UInt(position.value());
  } else {
    w.Null();
  }
  // What a queued job waits for: its turn in the queue, or its lazy model to load.
  w.Key("waiting_for");
  if (s.status == JobStatus::kQueued && s.waiting_for_model) {
    w.String("model_load");
  } else if (position.has_value()) {
    w.String("queue");
  } else {
    w.Null();
  }
  w.Key("progress").BeginObject().Key("step").UInt(s.step).Key("steps").UInt(s.steps).EndObject();
  w.Key("eta_seconds");
  if (auto eta = EtaSeconds(state, shape, s, position)) {
    w.Number(*eta);
  } else {
    w.Null();
  }
  WriteOptionalTime(w, "created_at", s.created_at);
  WriteOptionalTime(w, "started_at", s.started_at);
  WriteOptionalTime(w, "finished_at", s.finished_at);
  w.Key("cancel_requested").Bool(s.cancel_requested);
  const std::string result = s.status == JobStatus::kSucceeded ? InnerMembers(s.response_json)
                                                               : InnerMembers(s.error_json);
  if (!with_result || result.empty() || s.status != JobStatus::kSucceeded) {
    w.Key("model").String(s.model);
  }
  w.EndObject();
  std::string json = w.Take();
  if (!with_result || result.empty()) return json;
  json.pop_back();  // the closing brace
  return json + "," + result + "}";
}

}  // namespace flx

namespace flx {

void SendJobJson(Poco::Net::HTTPServerResponse& response, int status, const std::string& body) {
  response.setStatusAndReason(static_cast<HTTPResponse::HTTPStatus>(status));
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.send() << body << std::flush;
}

std::variant<JobListQuery, ApiError> ParseJobListQuery(const std::string& uri) {
  JobListQuery query;
  query.limit = kDefaultListLimit;
  Poco::URI::QueryParameters parameters;
  try {
    parameters = Poco::URI(uri).getQueryParameters();
  } catch (const Poco::Exception& e) {
    return BadRequest("the query string is malformed: " + e.displayText(), "query");
  }
  for (const auto& [key, value] : parameters) {
    if (key == "status") {
      query.status = ParseJobStatus(value);
      if (!query.status) {
        return BadRequest(
            "'status' must be queued, running, succeeded, failed or cancelled, "
            "got \"" +
                value.substr(0, 40) + "\"",
            "status");
      }
    } else if (key == "limit") {
      unsigned parsed = 0;
      if (!Poco::NumberParser::tryParseUnsigned(value, parsed) || parsed < 1 ||
          parsed > kMaxListLimit) {
        return BadRequest("'limit' must be an integer from 1 to " + std::to_string(kMaxListLimit) +
                              ", got \"" + value.substr(0, 40) + "\"",
                          "limit");
      }
      query.limit = parsed;
    }
  }
  return query;
}

namespace {

// Whether `text` ends with `suffix`; removes it when it does (and leaves something before).
bool StripSuffix(std::string* text, const std::string& suffix) {
  if (text->size() <= suffix.size()) return false;
  if (text->compare(text->size() - suffix.size(), std::string::npos, suffix) != 0) return false;
  text->resize(text->size() - suffix.size());
  return true;
}

}  // namespace

std::variant<JobRoute, ApiError> ResolveJobRoute(const std::string& method,
                                                 const std::string& path) {
  const bool get = method == "GET" || method == "HEAD";
  if (path.rfind(kJobsPrefix, 0) != 0) {
    if (!get) return MethodNotAllowedError(method, "GET, POST");
    return JobRoute{JobRoute::Kind::kList, ""};
  }
  std::string id = path.substr(std::string(kJobsPrefix).size());
  const bool cancel = StripSuffix(&id, "/cancel");
  const bool events = !cancel && StripSuffix(&id, "/events");
  if (cancel && method != "POST") return MethodNotAllowedError(method, "POST");
  if (!cancel && !get) return MethodNotAllowedError(method, "GET");
  if (cancel) return JobRoute{JobRoute::Kind::kCancel, id};
  return JobRoute{events ? JobRoute::Kind::kEvents : JobRoute::Kind::kGet, id};
}

ApiError IdempotencyKeyReused() {
  ApiError e;
  e.http_status = 409;
  e.type = "invalid_request_error";
  e.code = "idempotency_key_reused";
  e.param = "Idempotency-Key";
  e.message =
      "this Idempotency-Key was already used with a different request; use a new key for a "
      "new request";
  return e;
}

ApiError JobEndedError(const std::string& id, const std::string& status) {
  ApiError e;
  e.http_status = 409;
  e.type = "invalid_request_error";
  e.code = "job_ended";
  e.message = "the background job '" + id + "' has already " + status +
              "; there is nothing to cancel";
  return e;
}

namespace {


void ListJobs(ServerState* state, Poco::Net::HTTPServerRequest& request,
              Poco::Net::HTTPServerResponse& response) {
  auto query = ParseJobListQuery(request.getURI());
  if (auto* error = std::get_if<ApiError>(&query)) return SendApiError(response, *error);
  const JobListQuery& q = std::get<JobListQuery>(query);
  // One more than asked, to tell whether there are more.
  std::vector<std::shared_ptr<Job>> jobs = state->jobs.List(q.status, q.limit + 1);
  const bool has_more = jobs.size() > q.limit;
  if (has_more) jobs.pop_back();
  std::string body = "{\"object\":\"list\",\"data\":[";
  for (size_t i = 0; i < jobs.size(); ++i) {
    body += (i == 0 ? "" : ",") + JobJson(*state, *jobs[i], /*with_result=*/false);
  }
  body += std::string("],\"has_more\":") + (has_more ? "true" : "false") + "}";
  SendJobJson(response, 200, body);
}

void CancelJob(ServerState* state, Job& job, Poco::Net::HTTPServerResponse& response) {
  if (!job.RequestCancel()) {
    const JobStatus status = job.Snapshot(false).status;
    if (status != JobStatus::kCancelled) {
      return SendApiError(response, JobEndedError(job.id(), JobStatusName(status)));
    }
  }
  SendJobJson(response, 200, JobJson(*state, job, /*with_result=*/false));
}

}  // namespace

void ServeJobRoute(ServerState* state, Poco::Net::HTTPServerRequest& request,
                   Poco::Net::HTTPServerResponse& response, const std::string& path,
                   const std::function<bool()>& peer_gone) {
  auto resolved = ResolveJobRoute(request.getMethod(), path);
  if (auto* error = std::get_if<ApiError>(&resolved)) return SendApiError(response, *error);
  const JobRoute& route = std::get<JobRoute>(resolved);
  if (route.kind == JobRoute::Kind::kList) return ListJobs(state, request, response);
  const JobStore::Lookup found = state->jobs.Find(route.id);
  if (!found.job) {
    return SendApiError(response, JobNotFound(*state, route.id.substr(0, 80), found.expired));
  }
  switch (route.kind) {
    case JobRoute::Kind::kCancel:
      return CancelJob(state, *found.job, response);
    case JobRoute::Kind::kEvents:
      StreamJobEvents(*state, *found.job, request, response, peer_gone);
      return;
    default:
      SendJobJson(response, 200, JobJson(*state, *found.job, /*with_result=*/true));
  }
}

}  // namespace flx
