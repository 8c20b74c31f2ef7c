#include "http/handlers.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <Poco/UUIDGenerator.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>

#include "error.h"
#include "http/api_errors.h"
#include "http/bearer_auth.h"
#include "http/model_admin.h"
#include "http/embedded_files.h"
#include "http/event_stream.h"
#include "http/generation_jobs.h"
#include "http/edit_request.h"
#include "sha256.h"
#include "http/shared_jobs.h"
#include "jobs/shared_job_record.h"
#include "http/generation_render.h"
#include "http/generation_request.h"
#include "http/host_events.h"
#include "http/json_writer.h"
#include "image_encoder.h"
#include "logging.h"

namespace flx {
namespace {

using Clock = std::chrono::steady_clock;
using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

constexpr const char* kGenerationsPath = "/v1/images/generations";
constexpr const char* kEditsPath = "/v1/images/edits";
constexpr const char* kModelsPath = "/v1/models";
constexpr const char* kFilesPrefix = kImageFilesPrefix;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

bool IsValidRequestId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

void SendJson(HTTPServerResponse& response, HTTPResponse::HTTPStatus status,
              const std::string& body) {
  response.setStatus(status);
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  // Flushed here, not when Poco destroys the stream: shutdown waits for this handler only.
  response.send() << body << std::flush;
}

// A plugin's describe() output, checked to be a JSON object before it is embedded.
std::string CheckedJsonObject(const std::string& text, const std::string& what) {
  try {
    Poco::JSON::Parser parser;
    auto v = parser.parse(text.empty() ? "{}" : text);
    if (v.type() == typeid(Poco::JSON::Object::Ptr)) return text.empty() ? "{}" : text;
  } catch (const std::exception&) {
  }
  std::string out;
  JsonWriter w;
  w.BeginObject().Key("error").String(what + " returned invalid JSON").EndObject();
  return w.Take();
}

// `object` (a valid JSON object) with `members` ("\"k\":v,...") added at its end.
std::string WithMembers(std::string object, const std::string& members) {
  while (!object.empty() && std::isspace(static_cast<unsigned char>(object.back()))) {
    object.pop_back();
  }
  object.pop_back();  // the closing brace
  bool has_members = object.find_first_not_of(" \t\r\n", object.find('{') + 1) != std::string::npos;
  return object + (has_members ? "," : "") + members + "}";
}

std::string DescribeStage(const StageInstance* stage) {
  flx_buffer buffer;
  flx_error* err = nullptr;
  if (const auto* p = stage->pipeline()) {
    if (p->describe) err = p->describe(stage->self, &buffer);
  } else if (const auto* s = stage->scheduler()) {
    if (s->describe) err = s->describe(stage->self, &buffer);
  }
  if (err != nullptr) {
    Status st = ConsumeError(err);
    JsonWriter w;
    w.BeginObject().Key("error").String(st.ToString()).EndObject();
    return w.Take();
  }
  return CheckedJsonObject(buffer.data, "stage '" + stage->id + "' describe()");
}

int SocketOf(HTTPServerRequest& request) {
  return static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket().impl()->sockfd();
}

// Why a request's framing rules out reading its body: no length and no chunked encoding
// (411: the body would run until the client closes), or a negative length (400).
std::optional<ApiError> BodyFramingError(const HTTPServerRequest& request) {
  if (request.getChunkedTransferEncoding()) return std::nullopt;
  if (!request.hasContentLength()) {
    ApiError e;
    e.http_status = 411;
    e.type = "invalid_request_error";
    e.code = "length_required";
    e.message = "a request body needs a Content-Length header or chunked Transfer-Encoding";
    return e;
  }
  if (request.getContentLength64() < 0) {
    return BadRequest("the Content-Length header is negative", "", "invalid_content_length");
  }
  return std::nullopt;
}

// Reads the request body, refusing more than `limit` bytes (413), bodies without framing
// (411) and bodies that take longer than `timeout_s` as a whole (408). Returns false after
// sending the error; `error_code` gets its code.
// Sends `error` on a connection that will not be reused (its body state is unknown).
bool RefuseBody(HTTPServerResponse& response, const ApiError& error, std::string* error_code) {
  response.setKeepAlive(false);
  *error_code = error.code;
  SendApiError(response, error);
  return false;
}

ApiError BodyTimeoutError(double timeout_s) {
  ApiError e;
  e.http_status = 408;
  e.type = "invalid_request_error";
  e.code = "request_timeout";
  char message[128];
  std::snprintf(message, sizeof(message),
                "the request body did not arrive within %.3g s (server.body_timeout_s)", timeout_s);
  e.message = message;
  return e;
}

ApiError BodyTooLargeError(const std::string& size, uint64_t limit) {
  ApiError e;
  e.http_status = 413;
  e.type = "invalid_request_error";
  e.code = "request_too_large";
  e.message = "request body of " + size + " exceeds the limit of " + std::to_string(limit) +
              " bytes (server.max_body_bytes)";
  return e;
}

// Reads and throws away what the client is still sending, so that it can read the 413
// instead of failing on a reset connection; beyond a cap the connection is simply closed.
void DrainBody(std::istream& in, uint64_t limit) {
  const uint64_t cap = std::max<uint64_t>(limit * 16, uint64_t(16) << 20);
  char sink[16384];
  uint64_t drained = 0;
  while (in && drained < cap) {
    in.read(sink, sizeof(sink));
    if (in.gcount() <= 0) break;
    drained += uint64_t(in.gcount());
  }
}

// Appends `in` to `body` up to `limit` bytes; false (and the rest drained) past it.
bool ReadUpTo(std::istream& in, uint64_t limit, std::string* body) {
  body->clear();
  char chunk[16384];
  while (in) {
    in.read(chunk, sizeof(chunk));
    std::streamsize got = in.gcount();
    if (got <= 0) break;
    if (body->size() + size_t(got) > limit) {
      DrainBody(in, limit);
      return false;
    }
    body->append(chunk, size_t(got));
  }
  return true;
}

bool ReadBody(HTTPServerRequest& request, HTTPServerResponse& response, uint64_t limit,
              ReadDeadlines& deadlines, double timeout_s, std::string* body,
              std::string* error_code) {
  if (auto framing = BodyFramingError(request)) return RefuseBody(response, *framing, error_code);
  ReadDeadlines::Guard deadline = deadlines.Arm(SocketOf(request), timeout_s);
  std::istream& in = request.stream();
  if (request.hasContentLength()) {
    auto length = request.getContentLength64();
    if (length > 0 && uint64_t(length) > limit) {
      DrainBody(in, limit);
      return RefuseBody(response, BodyTooLargeError(std::to_string(length) + " bytes", limit),
                        error_code);
    }
  }
  try {
    if (!ReadUpTo(in, limit, body)) {
      return RefuseBody(response,
                        BodyTooLargeError("more than " + std::to_string(limit) + " bytes", limit),
                        error_code);
    }
  } catch (const Poco::Exception&) {
    // A chunked stream cut short by the deadline (or a malformed chunk header).
    if (!deadline.expired()) throw;
  }
  if (deadline.Disarm()) return RefuseBody(response, BodyTimeoutError(timeout_s), error_code);
  return true;
}

class RequestHandler : public Poco::Net::HTTPRequestHandler {
 public:
  // The request uses the graph serving when it arrived to its end (a reload may replace it).
  explicit RequestHandler(ServerState* state) : state_(state), graph_(state->graph()) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    auto start = Clock::now();
    std::string request_id = request.get("X-Request-Id", "");
    if (!IsValidRequestId(request_id)) {
      request_id = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
    }
    request_id_ = request_id;
    response.set("X-Request-Id", request_id);
    std::string path;
    try {
      path = Poco::URI(request.getURI()).getPath();
    } catch (const Poco::Exception&) {
      path = request.getURI();
    }
    access_fields_.BeginObject();
    access_fields_.Key("method").String(request.getMethod());
    access_fields_.Key("path").String(path.substr(0, 200));
    try {
      Route(request, response, path);
    } catch (const Poco::Net::NetException& e) {
      // The client went away mid-response: nothing left to tell it.
      Log(spdlog::level::info, "connection error while answering: " + e.displayText());
    } catch (const std::exception& e) {
      Log(spdlog::level::err, std::string("internal error: ") + e.what());
      if (!response.sent()) {
        ApiError err;
        err.message = std::string("internal error: ") + e.what();
        err.code = "internal_error";
        SendApiError(response, err);
      }
    }
    int status = int(response.getStatus());
    auto level = status >= 500 ? spdlog::level::warn : spdlog::level::info;
    if (path == "/healthz" || path == "/readyz" ||
        (status == 200 && request.getMethod() == "GET")) {
      level = spdlog::level::debug;
    }
    double total_s = Seconds(start);
    char line[512];
    std::snprintf(line, sizeof(line), "%s %s -> %d in %.3f ms", request.getMethod().c_str(),
                  path.substr(0, 200).c_str(), status, total_s * 1e3);
    access_fields_.Key("status").Int(status).Key("total_s").Number(total_s).EndObject();
    LogWithRequest(*state_->logger, level, request_id_, line + summary_, access_fields_.str());
  }

 private:
  void Log(spdlog::level::level_enum level, const std::string& message) {
    JsonWriter fields;
    fields.BeginObject();
    if (!model_.empty()) fields.Key("model").String(model_);
    fields.EndObject();
    LogWithRequest(*state_->logger, level, request_id_, message, fields.str());
  }

  // Sends a host event about this request to the observers.
  void Emit(flx_event event, const std::string& model) {
    DeliverHostEvent(state_->events.get(), event, request_id_, model);
  }

  // Every generation request ends with one COMPLETED event, success or not.
  void EmitCompleted(const std::string& model, int status, const std::string& error_code,
                     double seconds, uint32_t images) {
    Emit(CompletedEvent(status, error_code, seconds, images), model);
  }

  void MethodNotAllowed(Poco::Net::HTTPServerResponse& response, const std::string& method,
                        const std::string& allowed) {
    SendApiError(response, MethodNotAllowedError(method, allowed));
  }

  // True when the request may use /v1/ routes: no keys configured, or a matching bearer token.
  // Compared in constant time so response timing does not leak how much of a key matched.
  bool Authorized(const HTTPServerRequest& request, HTTPServerResponse& response) {
    const auto& keys = state_->options.api_keys;
    if (keys.empty()) return true;
    std::string header = request.get("Authorization", "");
    if (CarriesKey(header, keys)) return true;
    ApiError e;
    e.http_status = 401;
    e.type = "invalid_request_error";
    e.code = "invalid_api_key";
    e.message = header.empty() ? "missing API key: send \"Authorization: Bearer KEY\""
                               : "incorrect API key provided";
    e.headers["WWW-Authenticate"] = "Bearer";
    SendApiError(response, e);
    return false;
  }

  void Route(HTTPServerRequest& request, HTTPServerResponse& response, const std::string& path) {
    const std::string& method = request.getMethod();
    // The admin routes check the admin keys, not the API keys.
    if (ServeModelAdmin(state_, request, response, path)) return;
    if (path.rfind("/v1/", 0) == 0 && !Authorized(request, response)) return;
    bool get = method == "GET" || method == "HEAD";
    if (path == kGenerationsPath && method == "POST") return Generations(request, response);
    if (path == kEditsPath) {
      if (method != "POST") return MethodNotAllowed(response, method, "POST");
      return Generations(request, response);
    }
    if (path == kGenerationsPath || path.rfind(kJobsPrefix, 0) == 0) {
      if (state_->shared_queue) {
        return ServeSharedJobRoute(state_, request, response, path, PeerGone(SocketOf(request)));
      }
      return ServeJobRoute(state_, request, response, path, PeerGone(SocketOf(request)));
    }
    if (path == kModelsPath) {
      if (!get) return MethodNotAllowed(response, method, "GET");
      return ListModels(response);
    }
    if (path.rfind(std::string(kModelsPath) + "/", 0) == 0) {
      if (!get) return MethodNotAllowed(response, method, "GET");
      return GetModel(response, path.substr(std::string(kModelsPath).size() + 1));
    }
    if (path.rfind(kFilesPrefix, 0) == 0) {
      if (!get) return MethodNotAllowed(response, method, "GET");
      return GetFile(response, path.substr(std::string(kFilesPrefix).size()));
    }
    if (path == "/healthz") {
      if (!get) return MethodNotAllowed(response, method, "GET");
      return SendJson(response, HTTPResponse::HTTP_OK, "{\"status\":\"ok\"}");
    }
    if (path == "/readyz") {
      if (!get) return MethodNotAllowed(response, method, "GET");
      return Ready(response);
    }
    if (get && ServePlayground(response, path)) return;
    if (get && ServeFromObservers(response, path)) return;
    if (!get && ObserversServe(path)) return MethodNotAllowed(response, method, "GET");
    SendApiError(response, NotFoundError("no route for " + method + " " + path));
  }

  // GET / and /playground/*: the web playground's embedded files. Not under /v1/: the page
  // asks for the API key itself. Its own origin only (Content-Security-Policy).
  bool ServePlayground(HTTPServerResponse& response, const std::string& path) {
    const std::string name = path == "/" ? "/playground/index.html" : path;
    const auto& files = EmbeddedFiles();
    const auto found = files.find(name);
    if (found == files.end()) return false;
    response.setStatusAndReason(HTTPResponse::HTTP_OK);
    response.setContentType(EmbeddedFileType(name));
    response.set("Cache-Control", "no-cache");
    response.set("X-Content-Type-Options", "nosniff");
    response.set("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                 "script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
    response.setContentLength(static_cast<std::streamsize>(found->second.size()));
    response.send().write(found->second.data(), std::streamsize(found->second.size())).flush();
    return true;
  }

  void Ready(HTTPServerResponse& response) {
    std::string why;
    if (state_->shutting_down.load()) {
      why = "server is shutting down";
    } else if (graph_->Ready(&why) && SharedQueueReady(&why)) {
      return SendJson(response, HTTPResponse::HTTP_OK, "{\"status\":\"ready\"}");
    }
    ApiError e;
    e.http_status = 503;
    e.code = "not_ready";
    e.message = why;
    SendApiError(response, e);
  }

  // True without a shared job queue or when it answers; otherwise `why` says what is wrong.
  bool SharedQueueReady(std::string* why) {
    if (!state_->shared_queue) return true;
    const Status status = state_->shared_queue->Check();
    if (status.ok()) return true;
    *why = status.message();
    return false;
  }

  // Whether an observer serves GET `path` (for the 405 of another method): asks each, as a
  // GET would, and throws the answer away.
  bool ObserversServe(const std::string& path) {
    for (StageInstance* o : graph_->observers()) {
      const flx_metrics_iface* m = o->metrics();
      if (m->http_get == nullptr) continue;
      flx_buffer body;
      const char* content_type = nullptr;
      Status st = ConsumeError(m->http_get(o->self, path.c_str(), &body, &content_type));
      if (st.code() != FLX_NOT_FOUND) return true;
    }
    return false;
  }

  bool ServeFromObservers(HTTPServerResponse& response, const std::string& path) {
    for (StageInstance* o : graph_->observers()) {
      const flx_metrics_iface* m = o->metrics();
      if (m->http_get == nullptr) continue;
      flx_buffer body;
      const char* content_type = nullptr;
      flx_error* err = m->http_get(o->self, path.c_str(), &body, &content_type);
      if (err != nullptr) {
        Status st = ConsumeError(err);
        if (st.code() == FLX_NOT_FOUND) continue;
        ApiError e;
        e.message = "stage '" + o->id + "' failed to serve " + path + ": " + st.ToString();
        e.code = "internal_error";
        SendApiError(response, e);
        return true;
      }
      response.setStatus(HTTPResponse::HTTP_OK);
      response.setContentType(content_type ? content_type : "text/plain; charset=utf-8");
      response.setContentLength(static_cast<std::streamsize>(body.data.size()));
      response.send() << body.data << std::flush;
      return true;
    }
    return false;
  }

  void WriteModel(JsonWriter& w, const ModelChain& m) {
    const StageInstance* p = m.pipeline;
    w.BeginObject();
    w.Key("id").String(m.id);
    w.Key("object").String("model");
    w.Key("created").Int(state_->started_unix);
    w.Key("owned_by").String("fluxserve");
    w.Key("ready").Bool(p->readiness() == Readiness::kReady);
    w.Key("load").String(ModelLoadName(m.load));
    w.Key("state").String(ReadinessName(p->readiness()));
    if (p->readiness() == Readiness::kFailed) w.Key("state_message").String(p->readiness_message());
    w.Key("pipeline").BeginObject();
    w.Key("stage").String(p->id);
    w.Key("type").String(p->type);
    w.Key("version").String(p->factory->version ? p->factory->version : "");
    w.Key("prepare_seconds").Number(p->prepare_seconds());
    w.EndObject();
    // config = the pipeline's active settings, plus the queue limits and plugin versions, so
    // a dashboard reads one object; queue and plugins also stand alone for older clients.
    std::string queue = m.scheduler != nullptr ? DescribeStage(m.scheduler) : "null";
    JsonWriter plugins;
    plugins.BeginObject();
    auto add_plugin = [&](const StageInstance* s) {
      plugins.Key(s->id).BeginObject();
      plugins.Key("library").String(s->library->path());
      plugins.Key("plugin_version")
          .String(s->library->info().version ? s->library->info().version : "");
      plugins.Key("type").String(s->type);
      plugins.Key("type_version").String(s->factory->version ? s->factory->version : "");
      plugins.EndObject();
    };
    if (m.scheduler) add_plugin(m.scheduler);
    for (const StageInstance* r : m.recoveries) add_plugin(r);
    add_plugin(p);
    plugins.EndObject();
    std::string config =
        WithMembers(DescribeStage(p), "\"queue\":" + queue + ",\"plugins\":" + plugins.str());
    w.Key("config").Raw(config);
    w.Key("queue").Raw(queue);
    w.Key("recovery").BeginArray();
    for (const StageInstance* r : m.recoveries) w.String(r->id);
    w.EndArray();
    w.Key("plugins").Raw(plugins.str());
    w.Key("stats").BeginObject();
    for (StageInstance* o : graph_->observers()) {
      const flx_metrics_iface* mi = o->metrics();
      if (mi->describe_model == nullptr) continue;
      flx_buffer buffer;
      Status st = ConsumeError(mi->describe_model(o->self, m.id.c_str(), &buffer));
      w.Key(o->id);
      if (st.ok()) {
        w.Raw(CheckedJsonObject(buffer.data, "stage '" + o->id + "' describe_model()"));
      } else {
        w.BeginObject().Key("error").String(st.ToString()).EndObject();
      }
    }
    w.EndObject();
    w.EndObject();
  }

  void ListModels(HTTPServerResponse& response) {
    JsonWriter w;
    w.BeginObject().Key("object").String("list").Key("data").BeginArray();
    for (const ModelChain& m : graph_->models()) WriteModel(w, m);
    w.EndArray().EndObject();
    SendJson(response, HTTPResponse::HTTP_OK, w.str());
  }

  void GetModel(HTTPServerResponse& response, const std::string& raw_id) {
    std::string id;
    Poco::URI::decode(raw_id, id);
    const ModelChain* m = graph_->FindModel(id);
    if (m == nullptr) {
      ApiError e = NotFoundError("the model '" + id + "' does not exist", "model_not_found");
      e.param = "model";
      return SendApiError(response, e);
    }
    JsonWriter w;
    WriteModel(w, *m);
    SendJson(response, HTTPResponse::HTTP_OK, w.str());
  }

  void GetFile(HTTPServerResponse& response, const std::string& name) {
    auto path = state_->store.Resolve(name);
    if (!path.ok()) return SendApiError(response, NotFoundError(path.status().message()));
    response.sendFile(*path, MimeTypeOfFileName(name));
  }

  void Generations(HTTPServerRequest& request, HTTPServerResponse& response) {
    auto start = Clock::now();
    GenerationsImpl(request, response, start);
    // A job reports its own COMPLETED when it ends: not the 202, not a joined result.
    if (answered_by_job_) return;
    EmitCompleted(model_, int(response.getStatus()), error_code_, Seconds(start), images_);
  }

  void Fail(HTTPServerResponse& response, const ApiError& error) {
    error_code_ = error.code;
    SendApiError(response, error);
  }

  // POST /v1/images/generations as named steps: refuse while draining, read and parse the
  // body, resolve the model, run the generation, then encode (and store) the images and
  // render the response; each step that fails answers the client itself.
  void GenerationsImpl(HTTPServerRequest& request, HTTPServerResponse& response,
                       Clock::time_point start) {
    if (state_->shutting_down.load()) {
      response.setKeepAlive(false);
      return Fail(response, ShuttingDown("server is shutting down"));
    }
    const bool edit = request.getURI().rfind(kEditsPath, 0) == 0;
    std::string body;
    if (!ReadBody(request, response,
                  edit ? state_->options.max_upload_bytes : state_->options.max_body_bytes,
                  state_->deadlines, state_->options.body_timeout_s, &body, &error_code_)) {
      return;
    }
    auto parsed = edit ? ParseEdit(request, &body) : ParseImagesRequest(body);
    if (auto* err = std::get_if<ApiError>(&parsed)) return Fail(response, *err);
    ImagesRequest& r = std::get<ImagesRequest>(parsed);
    if (!edit && r.strength) {
      return Fail(response, BadRequest("'strength' applies to edits (POST /v1/images/edits)",
                                       "strength"));
    }
    const ModelChain* chain = ResolveModel(r, response);
    if (chain == nullptr) return;
    if (!r.seed_given) r.input.seed = state_->DrawSeed();
    if (state_->shared_queue) return SharedGeneration(request, response, r, *chain, body);
    if (request.has("Idempotency-Key")) return GenerateOnce(request, response, r, *chain, body);
    if (r.stream) return StreamGeneration(request, response, r, *chain);
    if (r.background) return SubmitJob(request, response, r, *chain);

    flx_call call;
    call.request_id = request_id_;
    call.model = chain->id;
    call.deadline_epoch_s = state_->options.DeadlineFor(r.timeout_s, UnixNow());
    call.peer_gone = PeerGone(SocketOf(request));
    // Registered until the response is written, so shutdown waits for the answer too.
    CallRegistration registration(state_, &call);
    auto [output, failure] = state_->service.Run(*chain, r.input, &call);
    if (failure) return FailGeneration(response, r, *chain, *failure);

    std::optional<EncodedImages> encoded = EncodeAndStore(request, response, r, *chain, *output);
    if (!encoded) return;
    const std::string json = RenderGeneration(r, chain->id, *output, *encoded, call, start);
    LogGeneration(r, *chain, *output, *encoded);
    images_ = uint32_t(output->images.size());
    SendJson(response, HTTPResponse::HTTP_OK, json);
  }

  // "background": true: 202 with the job, or the refusal a synchronous caller would hear.
  void SubmitJob(HTTPServerRequest& request, HTTPServerResponse& response, const ImagesRequest& r,
                 const ModelChain& chain) {
    auto submitted = SubmitGenerationJob(state_, chain, r, Storage(request));
    if (auto* error = std::get_if<ApiError>(&submitted)) return Fail(response, *error);
    AnswerJob(response, r, *std::get<std::shared_ptr<Job>>(submitted), false);
  }

  // "stream": true: the generation runs as a job whose events are the answer; a client that
  // goes away cancels it unless it is also a background job.
  void StreamGeneration(HTTPServerRequest& request, HTTPServerResponse& response,
                        const ImagesRequest& r, const ModelChain& chain) {
    auto submitted = SubmitGenerationJob(state_, chain, r, Storage(request));
    if (auto* error = std::get_if<ApiError>(&submitted)) return Fail(response, *error);
    Job& job = *std::get<std::shared_ptr<Job>>(submitted);
    NoteJob(r, job, false, response);
    if (!StreamJobEvents(*state_, job, request, response, PeerGone(SocketOf(request))) &&
        !r.background) {
      job.RequestCancel();
    }
  }

  // A request with an Idempotency-Key runs as a job once per key: a retry joins it. The job
  // is not cancelled when its client goes away, so that the retry finds it.
  void GenerateOnce(HTTPServerRequest& request, HTTPServerResponse& response,
                    const ImagesRequest& r, const ModelChain& chain, const std::string& body) {
    auto key = ScopedIdempotencyKey(request);
    if (auto* error = std::get_if<ApiError>(&key)) return Fail(response, *error);
    auto keyed =
        SubmitGenerationJobOnce(state_, chain, r, Storage(request), std::get<std::string>(key), body);
    if (auto* error = std::get_if<ApiError>(&keyed)) return Fail(response, *error);
    const KeyedJob& found = std::get<KeyedJob>(keyed);
    if (r.stream) {
      NoteJob(r, *found.job, found.replayed, response);
      StreamJobEvents(*state_, *found.job, request, response, PeerGone(SocketOf(request)));
      return;
    }
    if (r.background) return AnswerJob(response, r, *found.job, found.replayed);
    if (!WaitForJob(request, *found.job)) return;
    AnswerWithResult(response, r, *found.job, found.replayed);
  }

  // An edit's multipart body as a request with its images; `*body` becomes the form's fields
  // as JSON (what a job's payload carries).
  std::variant<ImagesRequest, ApiError> ParseEdit(HTTPServerRequest& request, std::string* body) {
    auto form = ParseEditForm(request.getContentType(), *body);
    if (auto* error = std::get_if<ApiError>(&form)) return *error;
    edit_form_ = std::get<EditForm>(form);  // a shared queue's worker decodes it again
    const EditForm& fields = *edit_form_;
    // The fingerprint of an Idempotency-Key: the fields and every file's digest.
    *body = fields.json;
    for (const auto& [name, files] : fields.files) {
      for (const std::string& file : files) *body += "\n" + name + ":" + Sha256Hex(file);
    }
    return ParseEditRequest(fields);
  }

  // With a shared job queue every generation is a job there: a 202 (background), its events
  // (stream) or, synchronously, its result once a replica has run it.
  void SharedGeneration(HTTPServerRequest& request, HTTPServerResponse& response,
                        const ImagesRequest& r, const ModelChain& chain, const std::string& body) {
    const bool keyed = request.has("Idempotency-Key");
    const double deadline = state_->options.DeadlineFor(r.timeout_s, UnixNow());
    std::variant<SharedKeyedJob, ApiError> submitted;
    if (keyed) {
      auto key = ScopedIdempotencyKey(request);
      if (auto* error = std::get_if<ApiError>(&key)) return Fail(response, *error);
      submitted = SubmitSharedJobOnce(state_, chain, r, body, Storage(request).base_url,
                                      std::get<std::string>(key), edit_form_ ? &*edit_form_ : nullptr);
    } else {
      auto plain = SubmitSharedJob(state_, chain, r, body, Storage(request).base_url,
                                   edit_form_ ? &*edit_form_ : nullptr);
      if (auto* error = std::get_if<ApiError>(&plain)) return Fail(response, *error);
      submitted = SharedKeyedJob{std::get<std::string>(plain), false};
    }
    if (auto* error = std::get_if<ApiError>(&submitted)) return Fail(response, *error);
    const auto [id, replayed] = std::get<SharedKeyedJob>(submitted);
    NoteJob(r, id, chain.id, replayed, response);
    if (r.background) {
      auto json = SharedJobJson(state_, id, /*with_result=*/true);
      if (auto* error = std::get_if<ApiError>(&json)) return Fail(response, *error);
      response.set("Location", std::string(kJobsPrefix) + id);
      return SendWithStatus(response, 202, std::get<std::string>(json));
    }
    if (r.stream) {
      // A keyed stream's job runs on for a retry, as in process.
      if (!StreamSharedJobEvents(state_, id, response, PeerGone(SocketOf(request))) && !keyed) {
        state_->shared_queue->Cancel(id);
      }
      return;
    }
    AnswerSharedJob(request, response, id, keyed, deadline);
  }

  // Waits for a shared job and answers with its result; a client that leaves cancels it.
  void AnswerSharedJob(HTTPServerRequest& request, HTTPServerResponse& response,
                       const std::string& id, bool keyed, double deadline) {
    flx_call call;  // registered so that shutdown waits for (and then ends) the wait
    CallRegistration registration(state_, &call);
    const std::function<bool()> peer_gone = PeerGone(SocketOf(request));
    auto waited =
        WaitSharedJob(state_, id, peer_gone, [&] { return call.cancelled.load(); }, keyed,
                      deadline);
    if (auto* error = std::get_if<ApiError>(&waited)) return Fail(response, *error);
    const std::optional<QueueRecord>& record = std::get<std::optional<QueueRecord>>(waited);
    if (!record) {
      return Log(spdlog::level::info, "client went away; job " + id +
                                          (keyed ? " runs on for a retry" : " cancelled"));
    }
    const JobSnapshot ended = SnapshotFromRecord(*record);
    if (ended.status == JobStatus::kSucceeded) {
      return SendWithStatus(response, 200, ended.response_json);
    }
    error_code_ = "job_" + std::string(JobStatusName(ended.status));
    SendWithStatus(response, ended.error_status, ended.error_json);
  }

  // The request's Idempotency-Key scoped to its caller (keys of different API keys never
  // meet), or the 400 for a malformed one.
  static std::variant<std::string, ApiError> ScopedIdempotencyKey(HTTPServerRequest& request) {
    const std::string key = request.get("Idempotency-Key");
    if (key.empty() || key.size() > 255 ||
        std::any_of(key.begin(), key.end(), [](char c) { return c < 0x21 || c > 0x7e; })) {
      return BadRequest("the Idempotency-Key header must be 1-255 visible ASCII characters",
                        "Idempotency-Key");
    }
    const std::string caller = BearerToken(request.get("Authorization", "")).value_or("");
    return caller + "\n" + key;
  }

  // Waits for a job's end while the client is still there; false when it went away.
  bool WaitForJob(HTTPServerRequest& request, Job& job) {
    const std::function<bool()> peer_gone = PeerGone(SocketOf(request));
    while (!job.WaitEnded(0.2)) {
      if (peer_gone()) {
        Log(spdlog::level::info, "client went away; job " + job.id() + " runs on for a retry");
        return false;
      }
    }
    return true;
  }

  void NoteJob(const ImagesRequest& r, const Job& job, bool replayed,
               HTTPServerResponse& response) {
    NoteJob(r, job.id(), job.model(), replayed, response);
  }
  void NoteJob(const ImagesRequest& r, const std::string& id, const std::string& model,
               bool replayed, HTTPServerResponse& response) {
    answered_by_job_ = true;
    summary_ = " model=" + model + " seed=" + std::to_string(r.input.seed) + " job=" + id +
               (replayed ? " replayed" : "");
    access_fields_.Key("seed").UInt(r.input.seed);
    access_fields_.Key("job").String(id);
    if (replayed) access_fields_.Key("replayed").Bool(true);
    response.set("X-Job-Id", id);
    if (replayed) response.set("Idempotent-Replayed", "true");
  }

  void AnswerJob(HTTPServerResponse& response, const ImagesRequest& r, const Job& job,
                 bool replayed) {
    NoteJob(r, job, replayed, response);
    response.set("Location", std::string(kJobsPrefix) + job.id());
    SendWithStatus(response, 202, JobJson(*state_, job, /*with_result=*/true));
  }

  // A synchronous answer from a job: its images response, or its error envelope.
  void AnswerWithResult(HTTPServerResponse& response, const ImagesRequest& r, const Job& job,
                        bool replayed) {
    NoteJob(r, job, replayed, response);
    const JobSnapshot ended = job.Snapshot();
    if (ended.status == JobStatus::kSucceeded) {
      return SendWithStatus(response, 200, ended.response_json);
    }
    SendWithStatus(response, ended.error_status, ended.error_json);
  }

  static void SendWithStatus(HTTPServerResponse& response, int status, const std::string& body) {
    response.setStatusAndReason(static_cast<HTTPResponse::HTTPStatus>(status));
    if (status == 499) response.setReason("Client Closed Request");
    response.setContentType("application/json");
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.send() << body << std::flush;
  }

  static ApiError ShuttingDown(const std::string& message) {
    ApiError e;
    e.http_status = 503;
    e.code = "shutting_down";
    e.message = message;
    return e;
  }

  // Whether the client closed the socket `fd`: readable with nothing to read.
  static std::function<bool()> PeerGone(int fd) {
    return [fd] {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) return false;
      if (p.revents & (POLLHUP | POLLERR)) return true;
      char c;
      return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
    };
  }

  // The request's model (the first model when it names none); a 404 listing the models and
  // null otherwise.
  const ModelChain* ResolveModel(const ImagesRequest& r, HTTPServerResponse& response) {
    const auto& models = graph_->models();
    const ModelChain* chain = r.model.empty() ? &models.front() : graph_->FindModel(r.model);
    if (chain == nullptr) {
      std::string known;
      for (const auto& m : models) known += (known.empty() ? "" : ", ") + m.id;
      ApiError e =
          NotFoundError("the model '" + r.model + "' does not exist (available: " + known + ")",
                        "model_not_found");
      e.param = "model";
      Fail(response, e);
      return nullptr;
    }
    model_ = chain->id;
    access_fields_.Key("model").String(model_);
    return chain;
  }

  void FailGeneration(HTTPServerResponse& response, const ImagesRequest& r, const ModelChain& chain,
                      const GenerationError& failure) {
    ApiError e = FromGenerationError(failure);
    if (state_->shutting_down.load() && failure.status.code() == FLX_CANCELLED) {
      e = ShuttingDown("server is shutting down: the request was cancelled (" + e.message + ")");
    }
    summary_ = " model=" + chain.id + " seed=" + std::to_string(r.input.seed) +
               " error=" + CodeName(failure.status.code()) + ": " + failure.status.message();
    access_fields_.Key("seed").UInt(r.input.seed);
    access_fields_.Key("error").String(CodeName(failure.status.code()));
    if (!failure.fallbacks.empty()) {
      summary_ += " fallbacks=" + std::to_string(failure.fallbacks.size());
      access_fields_.Key("fallbacks").UInt(failure.fallbacks.size());
    }
    Fail(response, e);
  }

  // Encodes (and stores) the images; answers the 500 itself and returns nullopt on failure.
  std::optional<EncodedImages> EncodeAndStore(HTTPServerRequest& request,
                                              HTTPServerResponse& response, const ImagesRequest& r,
                                              const ModelChain& chain,
                                              const GenerationOutput& output) {
    auto encoded = flx::EncodeAndStore(r, chain.id, output, Storage(request),
                                       [this](const char* name, double s) { EmitPhase(name, s); });
    if (auto* error = std::get_if<ApiError>(&encoded)) {
      Fail(response, *error);
      return std::nullopt;
    }
    return std::move(std::get<EncodedImages>(encoded));
  }

  ImageStorage Storage(HTTPServerRequest& request) const {
    ImageStorage storage;
    storage.store = &state_->store;
    storage.base_url = state_->options.public_base_url;
    if (storage.base_url.empty()) storage.base_url = "http://" + request.getHost();
    storage.request_id = request_id_;
    storage.next_number = [state = state_] { return state->NextImageNumber(); };
    return storage;
  }

  void EmitPhase(const char* name, double seconds) { Emit(PhaseEvent(name, seconds), model_); }

  // The access-log summary and JSON fields of a served generation.
  void LogGeneration(const ImagesRequest& r, const ModelChain& chain,
                     const GenerationOutput& output, const EncodedImages& encoded) {
    std::string seeds;
    for (const auto& image : output.images) {
      seeds += (seeds.empty() ? "" : ",") + std::to_string(image.seed);
    }
    // The steps the pipeline ran (after any fallback), else those asked for; 0 = its default.
    auto effective_steps = output.params.find(FLX_KNOB_STEPS);
    const std::string steps = effective_steps != output.params.end()
                                  ? effective_steps->second
                                  : std::to_string(r.input.steps);
    const auto& first = output.images.front();
    char buf[320];
    std::snprintf(buf, sizeof(buf),
                  " model=%s n=%u size=%ux%u steps=%s seeds=%s queue=%.3fs generate=%.3fs "
                  "encode=%.3fs save=%.3fs",
                  chain.id.c_str(), r.input.n, first.width, first.height,
                  steps.substr(0, 20).c_str(), seeds.substr(0, 100).c_str(), output.queue_seconds,
                  output.generate_seconds, encoded.encode_s, encoded.save_s);
    summary_ = buf;
    if (!output.fallbacks.empty()) summary_ += " fallback=" + output.fallbacks.back().reason_code;
    access_fields_.Key("n").UInt(r.input.n);
    access_fields_.Key("size").String(std::to_string(first.width) + "x" +
                                      std::to_string(first.height));
    access_fields_.Key("steps").UInt(std::strtoull(steps.c_str(), nullptr, 10));
    access_fields_.Key("seeds").BeginArray();
    for (const auto& image : output.images) access_fields_.UInt(image.seed);
    access_fields_.EndArray();
    access_fields_.Key("queue_s").Number(output.queue_seconds);
    access_fields_.Key("generate_s").Number(output.generate_seconds);
    access_fields_.Key("encode_s").Number(encoded.encode_s).Key("save_s").Number(encoded.save_s);
    if (!output.fallbacks.empty()) {
      access_fields_.Key("fallback").String(output.fallbacks.back().reason_code);
    }
  }

  ServerState* state_;
  std::shared_ptr<StageGraph> graph_;
  std::string request_id_;
  std::string summary_;       // appended to the access-log line
  JsonWriter access_fields_;  // the access line's fields in JSON logs
  // For the COMPLETED event of a generation request.
  std::string model_;
  std::string error_code_;
  uint32_t images_ = 0;
  bool answered_by_job_ = false;  // a job made or joined by this request answered it
  std::optional<EditForm> edit_form_;  // an edit's form, for a shared queue's payload
};

class Router : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Router(ServerState* state) : state_(state) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new RequestHandler(state_);
  }

 private:
  ServerState* state_;
};

}  // namespace

Poco::Net::HTTPRequestHandlerFactory* NewRouter(ServerState* state) { return new Router(state); }

}  // namespace flx
