#include "http/shared_jobs.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

#include "http/generation_jobs.h"
#include "http/host_events.h"
#include "http/json_writer.h"
#include "jobs/shared_job_record.h"
#include "sha256.h"

namespace flx {
namespace {

constexpr uint32_t kEventWaitMs = 500;  // how long one read of a job's events waits
constexpr int kRecordCheckEvery = 10;   // reads: a waiter checks the record itself this often

std::string RetryAfterSeconds(const std::string& retry_after_ms) {
  const double ms = std::strtod(retry_after_ms.c_str(), nullptr);
  return std::to_string(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(ms / 1000))));
}

bool IsFinal(const QueueRecord& record) {
  const auto status = record.find("status");
  if (status == record.end()) return false;
  const std::optional<JobStatus> parsed = ParseJobStatus(status->second);
  return parsed && flx::IsFinal(*parsed);
}

// The job's events after `*after` (waiting up to kEventWaitMs for one), moving `*after` on.
// While the queue is away (a restart) none, after a pause: the job is safe in it.
std::vector<QueueEvent> NextEvents(ServerState* state, const std::string& job_id,
                                   std::string* after) {
  StatusOr<std::vector<QueueEvent>> events =
      state->shared_queue->ReadEvents(job_id, *after, kEventWaitMs);
  if (!events.ok()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kEventWaitMs));
    return {};
  }
  if (!events->empty()) *after = events->back().id;
  return std::move(*events);
}

// Why a waiting request stops waiting for `job_id` although the job goes on: its deadline
// passed (504; the job is cancelled) or the server stops (503; the job stays queued).
std::optional<ApiError> StopWaiting(ServerState* state, const std::string& job_id,
                                    const std::function<bool()>& stop, double deadline) {
  if (deadline > 0 && UnixNow() > deadline) {
    state->shared_queue->Cancel(job_id);
    return ServerError(
        504, "deadline_exceeded",
        "the request's deadline (timeout_s) passed before its job " + job_id + " ended");
  }
  if (stop && stop()) {
    return ServerError(503, "shutting_down",
                       "server is shutting down; the job goes on in the shared queue: GET " +
                           std::string(kJobsPrefix) + job_id);
  }
  return std::nullopt;
}

void WriteEvent(std::ostream& out, const QueueEvent& event) {
  out << "event: " << event.name << "\ndata: " << event.data << "\n\n";
}

std::variant<std::string, ApiError> ListSharedJobs(ServerState* state, const std::string& uri) {
  auto query = ParseJobListQuery(uri);
  if (auto* error = std::get_if<ApiError>(&query)) return *error;
  const JobListQuery& q = std::get<JobListQuery>(query);
  const std::string status = q.status ? JobStatusName(*q.status) : "";
  // One more than asked, to tell whether there are more.
  StatusOr<std::vector<QueueRecord>> records =
      state->shared_queue->List(status, static_cast<uint32_t>(q.limit + 1));
  if (!records.ok()) return QueueError(records.status(), {}, "");
  const bool has_more = records->size() > q.limit;
  if (has_more) records->pop_back();
  std::string body = "{\"object\":\"list\",\"data\":[";
  for (size_t i = 0; i < records->size(); ++i) {
    const QueueRecord& record = (*records)[i];
    body += (i == 0 ? "" : ",") + JobSnapshotJson(*state, SnapshotFromRecord(record),
                                                  ShapeFromRecord(record),
                                                  QueuePositionFromRecord(record), false);
  }
  return body + "],\"has_more\":" + (has_more ? "true" : "false") + "}";
}

std::variant<std::string, ApiError> CancelSharedJob(ServerState* state, const std::string& id) {
  QueueFailure failure;
  const Status status = state->shared_queue->Cancel(id, &failure);
  if (status.code() == FLX_FAILED_PRECONDITION) {
    // Ended: cancelling a cancelled job is no error (as in process); any other end is.
    StatusOr<QueueRecord> record = state->shared_queue->Get(id);
    const std::string ended = record.ok()
                                  ? SnapshotFromRecord(*record).status == JobStatus::kCancelled
                                        ? "cancelled"
                                        : (*record)["status"]
                                  : "ended";
    if (ended != "cancelled") return JobEndedError(id, ended);
  } else if (!status.ok()) {
    return QueueError(status, failure, id);
  }
  return SharedJobJson(state, id, /*with_result=*/false);
}

// An edit's form in a payload: {"fields": {name: text}, "files": {name: [base64...]}}.
void WriteEditForm(JsonWriter& w, const EditForm& form) {
  w.Key("edit").BeginObject().Key("fields").BeginObject();
  for (const auto& [name, value] : form.fields) w.Key(name).String(value);
  w.EndObject().Key("files").BeginObject();
  for (const auto& [name, files] : form.files) {
    w.Key(name).BeginArray();
    for (const std::string& file : files) w.String(Base64Encode(file));
    w.EndArray();
  }
  w.EndObject().EndObject();
}

std::string Base64Decode(const std::string& text) {
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in);
  return std::string(std::istreambuf_iterator<char>(decoder), {});
}

EditForm ReadEditForm(const Poco::JSON::Object& edit) {
  EditForm form;
  const Poco::JSON::Object::Ptr fields = edit.getObject("fields");
  for (const auto& [name, value] : *fields) form.fields[name] = value.toString();
  const Poco::JSON::Object::Ptr files = edit.getObject("files");
  for (const auto& [name, list] : *files) {
    const Poco::JSON::Array::Ptr encoded = list.extract<Poco::JSON::Array::Ptr>();
    for (size_t i = 0; i < encoded->size(); ++i) {
      form.files[name].push_back(Base64Decode(encoded->getElement<std::string>(unsigned(i))));
    }
  }
  return form;
}

// Adds the job `id` to the queue: its record (with `extra` members) and its payload.
Status Submit(ServerState* state, const ModelChain& chain, const ImagesRequest& request,
              const std::string& body, const std::string& base_url, const EditForm* edit,
              const std::string& id, const QueueFields& extra, QueueFailure* failure) {
  const double now = UnixNow();
  SharedJobPayload payload{
      body, request.input.seed, state->options.DeadlineFor(request.timeout_s, now), base_url, {}};
  if (edit != nullptr) payload.edit = *edit;
  const RunShape shape{chain.id, request.input.width, request.input.height, request.input.steps,
                       request.input.n};
  QueueFields record = SubmittedRecord(id, shape, now);
  record.insert(record.end(), extra.begin(), extra.end());
  return state->shared_queue->Submit(id, chain.id, record, EncodePayload(payload), failure);
}

}  // namespace

std::string EncodePayload(const SharedJobPayload& payload) {
  JsonWriter w;
  w.BeginObject();
  w.Key("body").String(payload.body);
  w.Key("seed").UInt(payload.seed);
  // Number() keeps 6 significant digits, far too few for Unix seconds.
  char deadline[40];
  std::snprintf(deadline, sizeof(deadline), "%.3f", payload.deadline);
  w.Key("deadline").Raw(deadline);
  w.Key("base_url").String(payload.base_url);
  if (payload.edit) WriteEditForm(w, *payload.edit);
  w.EndObject();
  return w.Take();
}

std::optional<SharedJobPayload> DecodePayload(const std::string& text) {
  try {
    Poco::JSON::Parser parser;
    const Poco::JSON::Object::Ptr object = parser.parse(text).extract<Poco::JSON::Object::Ptr>();
    if (!object->has("body") || !object->has("seed")) return std::nullopt;
    SharedJobPayload payload;
    payload.body = object->getValue<std::string>("body");
    payload.seed = object->getValue<uint64_t>("seed");
    payload.deadline = object->getValue<double>("deadline");
    payload.base_url = object->optValue<std::string>("base_url", "");
    if (object->has("edit")) payload.edit = ReadEditForm(*object->getObject("edit"));
    return payload;
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

std::variant<ImagesRequest, ApiError> RequestOfPayload(const SharedJobPayload& payload) {
  auto parsed = payload.edit ? ParseEditRequest(*payload.edit) : ParseImagesRequest(payload.body);
  if (auto* request = std::get_if<ImagesRequest>(&parsed)) request->input.seed = payload.seed;
  return parsed;
}

ApiError QueueError(const Status& status, const QueueFailure& failure, const std::string& job_id) {
  switch (status.code()) {
    case FLX_NOT_FOUND:
      return NotFoundError(failure.expired ? "the background job '" + job_id +
                                                 "' has expired (the job queue keeps "
                                                 "results for its result_ttl_s after a job ends)"
                                           : "no background job '" + job_id + "'",
                           failure.expired ? "job_expired" : "job_not_found");
    case FLX_FAILED_PRECONDITION:
      return JobEndedError(job_id, "ended");
    case FLX_RESOURCE_EXHAUSTED: {
      ApiError e;
      e.http_status = 429;
      e.type = "rate_limit_error";
      e.code = "queue_full";
      e.message = status.message();
      e.headers["Retry-After"] = RetryAfterSeconds(failure.retry_after_ms);
      return e;
    }
    default:
      break;
  }
  ApiError e = ServerError(503, "queue_unavailable", status.message());
  e.headers["Retry-After"] = "1";
  return e;
}

std::variant<std::string, ApiError> SubmitSharedJob(ServerState* state, const ModelChain& chain,
                                                    const ImagesRequest& request,
                                                    const std::string& body,
                                                    const std::string& base_url,
                                                    const EditForm* edit) {
  const std::string id = NewJobId();
  QueueFailure failure;
  const Status status = Submit(state, chain, request, body, base_url, edit, id, {}, &failure);
  if (!status.ok()) return QueueError(status, failure, id);
  return id;
}

std::variant<SharedKeyedJob, ApiError> SubmitSharedJobOnce(
    ServerState* state, const ModelChain& chain, const ImagesRequest& request,
    const std::string& body, const std::string& base_url, const std::string& scoped_key,
    const EditForm* edit) {
  const std::string id = "imgjob_" + Sha256Hex(scoped_key).substr(0, 32);
  const std::string fingerprint = Sha256Hex(body);
  // Twice at most: the second time when the key's job expired between the two calls.
  for (int round = 0; round < 2; ++round) {
    QueueFailure failure;
    const Status status = Submit(state, chain, request, body, base_url, edit, id,
                                 {{"fingerprint", fingerprint}}, &failure);
    if (status.ok()) return SharedKeyedJob{id, false};
    if (status.code() != FLX_ALREADY_EXISTS) return QueueError(status, failure, id);
    StatusOr<QueueRecord> existing = state->shared_queue->Get(id, &failure);
    if (!existing.ok() && existing.status().code() == FLX_NOT_FOUND) continue;
    if (!existing.ok()) return QueueError(existing.status(), failure, id);
    if ((*existing)["fingerprint"] != fingerprint) return IdempotencyKeyReused();
    flx_event replayed{};
    replayed.type = FLX_EVENT_REPLAYED;
    DeliverHostEvent(state->events.get(), replayed, id, chain.id);
    return SharedKeyedJob{id, true};
  }
  return IdempotencyKeyReused();
}

std::variant<std::string, ApiError> SharedJobJson(ServerState* state, const std::string& job_id,
                                                  bool with_result) {
  QueueFailure failure;
  StatusOr<QueueRecord> record = state->shared_queue->Get(job_id, &failure);
  if (!record.ok()) return QueueError(record.status(), failure, job_id);
  return JobSnapshotJson(*state, SnapshotFromRecord(*record), ShapeFromRecord(*record),
                         QueuePositionFromRecord(*record), with_result);
}

std::variant<std::optional<QueueRecord>, ApiError> WaitSharedJob(
    ServerState* state, const std::string& job_id, const std::function<bool()>& peer_gone,
    const std::function<bool()>& stop, bool keep_when_gone, double deadline) {
  std::string after;
  for (int round = 1;; ++round) {
    if (peer_gone && peer_gone()) {
      if (!keep_when_gone) state->shared_queue->Cancel(job_id);
      return std::optional<QueueRecord>();
    }
    if (std::optional<ApiError> why = StopWaiting(state, job_id, stop, deadline)) return *why;
    bool ended = round % kRecordCheckEvery == 0;
    for (const QueueEvent& event : NextEvents(state, job_id, &after)) {
      ended = ended || event.name == kQueueEndedEvent;
    }
    if (!ended) continue;
    QueueFailure failure;
    StatusOr<QueueRecord> record = state->shared_queue->Get(job_id, &failure);
    if (!record.ok() && record.status().code() == FLX_NOT_FOUND) {
      return QueueError(record.status(), failure, job_id);
    }
    if (record.ok() && IsFinal(*record)) return std::optional<QueueRecord>(*record);
  }
}

bool StreamSharedJobEvents(ServerState* state, const std::string& job_id,
                           Poco::Net::HTTPServerResponse& response,
                           const std::function<bool()>& peer_gone) {
  response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
  response.setContentType("text/event-stream");
  response.set("Cache-Control", "no-cache");
  response.set("X-Accel-Buffering", "no");
  response.set("X-Job-Id", job_id);
  response.setChunkedTransferEncoding(true);
  try {
    std::ostream& out = response.send();
    std::string after;
    for (;;) {
      if (peer_gone && peer_gone()) return false;
      for (const QueueEvent& event : NextEvents(state, job_id, &after)) {
        if (event.name == kQueueEndedEvent) return static_cast<bool>(out.flush());
        WriteEvent(out, event);
      }
      out.flush();
      if (!out) return false;
    }
  } catch (const Poco::Exception&) {
    return false;  // the client went away mid-stream
  }
}

void ServeSharedJobRoute(ServerState* state, Poco::Net::HTTPServerRequest& request,
                         Poco::Net::HTTPServerResponse& response, const std::string& path,
                         const std::function<bool()>& peer_gone) {
  auto resolved = ResolveJobRoute(request.getMethod(), path);
  if (auto* error = std::get_if<ApiError>(&resolved)) return SendApiError(response, *error);
  const JobRoute& route = std::get<JobRoute>(resolved);
  std::variant<std::string, ApiError> answer;
  switch (route.kind) {
    case JobRoute::Kind::kList:
      answer = ListSharedJobs(state, request.getURI());
      break;
    case JobRoute::Kind::kCancel:
      answer = CancelSharedJob(state, route.id);
      break;
    case JobRoute::Kind::kEvents:
      // Known first, so an unknown id is a 404 rather than an empty stream.
      answer = SharedJobJson(state, route.id, false);
      if (std::holds_alternative<std::string>(answer)) {
        StreamSharedJobEvents(state, route.id, response, peer_gone);
        return;
      }
      break;
    case JobRoute::Kind::kGet:
      answer = SharedJobJson(state, route.id, /*with_result=*/true);
      break;
  }
  if (auto* error = std::get_if<ApiError>(&answer)) return SendApiError(response, *error);
  SendJobJson(response, 200, std::get<std::string>(answer));
}

}  // namespace flx
