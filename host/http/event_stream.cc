#include "http/event_stream.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>

#include "http/generation_render.h"
#include "http/json_writer.h"
#include "image_encoder.h"

namespace flx {
namespace {

constexpr double kPollSeconds = 0.25;  // how often a quiet stream checks its client

int64_t NowSeconds() { return static_cast<int64_t>(std::floor(UnixNow())); }

std::string RequestedSize(const ImagesRequest& request) {
  if (request.input.width == 0 || request.input.height == 0) return "auto";
  return std::to_string(request.input.width) + "x" + std::to_string(request.input.height);
}

// The members every image event shares with OpenAI's: created_at, size, quality,
// background, output_format.
void WriteImageEventFields(JsonWriter& w, const std::string& size, const std::string& format) {
  w.Key("created_at").Int(NowSeconds());
  w.Key("size").String(size);
  w.Key("quality").String("auto");
  w.Key("background").String("auto");
  w.Key("output_format").String(format);
}

FeedEvent PartialImageEvent(const Job& job, const ImagesRequest& request, uint32_t index,
                            uint32_t step, const std::string& image_bytes) {
  JsonWriter w;
  w.BeginObject();
  w.Key("type").String("image_generation.partial_image");
  w.Key("b64_json").String(Base64Encode(image_bytes));
  WriteImageEventFields(w, RequestedSize(request), ImageFormatExtension(request.output_format));
  w.Key("partial_image_index").UInt(index);
  w.Key("step").UInt(step);
  w.Key("job_id").String(job.id());
  w.EndObject();
  return FeedEvent{"image_generation.partial_image", w.Take()};
}

// A preview from the pipeline becomes the job's next partial image, unless it has sent all.
void OnPreview(Job* job, const ImagesRequest& request, uint32_t step, uint32_t width,
               uint32_t height, uint32_t channels, const uint8_t* pixels) {
  const std::optional<uint32_t> index = job->TakePreviewIndex(request.partial_images);
  if (!index) return;
  const PixelView view{width, height, channels, pixels};
  StatusOr<std::string> bytes =
      EncodeImage(view, request.output_format, {}, request.output_quality);
  if (!bytes.ok()) return;  // a preview is a courtesy: the generation goes on without it
  job->AddFeedEvent(PartialImageEvent(*job, request, *index, step, *bytes));
}

// The image bytes of one entry of a response's data: its b64_json, or the stored file its
// url names.
std::string ImageBase64(const ServerState& state, const Poco::JSON::Object& item) {
  if (item.has("b64_json")) return item.getValue<std::string>("b64_json");
  const std::string url = item.optValue<std::string>("url", "");
  const size_t at = url.find(kImageFilesPrefix);
  if (at == std::string::npos) return "";
  StatusOr<std::string> path =
      state.store.Resolve(url.substr(at + std::string(kImageFilesPrefix).size()));
  if (!path.ok()) return "";
  std::ifstream in(*path, std::ios::binary);
  return Base64Encode(std::string(std::istreambuf_iterator<char>(in), {}));
}

std::vector<FeedEvent> CompletedEvents(const ServerState& state, const Job& job,
                                       const std::string& response_json) {
  Poco::JSON::Parser parser;
  const Poco::JSON::Object::Ptr response =
      parser.parse(response_json).extract<Poco::JSON::Object::Ptr>();
  const Poco::JSON::Array::Ptr data = response->getArray("data");
  std::vector<FeedEvent> events;
  for (size_t i = 0; data && i < data->size(); ++i) {
    const Poco::JSON::Object::Ptr item = data->getObject(static_cast<unsigned>(i));
    JsonWriter w;
    w.BeginObject();
    w.Key("type").String("image_generation.completed");
    w.Key("b64_json").String(ImageBase64(state, *item));
    WriteImageEventFields(w, response->optValue<std::string>("size", "auto"),
                          response->optValue<std::string>("output_format", "png"));
    w.Key("usage").Raw(R"({"input_tokens":0,"output_tokens":0,"total_tokens":0,)"
                       R"("input_tokens_details":{"image_tokens":0,"text_tokens":0}})");
    if (item->has("url")) w.Key("url").String(item->getValue<std::string>("url"));
    w.Key("seed").UInt(item->getValue<uint64_t>("seed"));
    w.Key("job_id").String(job.id());
    w.EndObject();
    events.push_back({"image_generation.completed", w.Take()});
  }
  return events;
}

void WriteEvent(std::ostream& out, const FeedEvent& event) {
  out << "event: " << event.name << "\ndata: " << event.data << "\n\n";
}

}  // namespace

FeedEvent ProgressEvent(const ServerState& state, const Job& job) {
  const JobSnapshot s = job.Snapshot(false);
  JsonWriter w;
  w.BeginObject();
  w.Key("type").String("image_generation.progress");
  w.Key("job_id").String(job.id());
  w.Key("step").UInt(s.step);
  w.Key("steps").UInt(s.steps);
  w.Key("eta_seconds");
  if (auto eta = state.run_times.Remaining(job.shape(), s.step, s.steps, s.step_seconds)) {
    w.Number(*eta);
  } else {
    w.Null();
  }
  w.EndObject();
  return FeedEvent{"image_generation.progress", w.Take()};
}

void FeedJobEvents(const ServerState* state, const ImagesRequest& request,
                   const std::shared_ptr<Job>& job) {
  // Raw pointers: the call that holds these lambdas belongs to the job.
  Job* fed = job.get();
  fed->call().observer = [state, fed](const flx_event& event) {
    fed->Observe(event);
    if (event.type == FLX_EVENT_STEP) fed->AddFeedEvent(ProgressEvent(*state, *fed));
  };
  if (request.partial_images == 0) return;
  const uint32_t wanted = request.partial_images;
  fed->call().preview_wanted = [wanted](uint32_t step, uint32_t total) {
    return PreviewDue(step, total, wanted);
  };
  fed->call().on_preview = [fed, request](uint32_t step, uint32_t, uint32_t width, uint32_t height,
                                          uint32_t channels, const uint8_t* pixels) {
    OnPreview(fed, request, step, width, height, channels, pixels);
  };
}

std::vector<FeedEvent> FinalEvents(const ServerState& state, const Job& job) {
  const JobSnapshot ended = job.Snapshot();
  if (ended.status == JobStatus::kSucceeded) {
    return CompletedEvents(state, job, ended.response_json);
  }
  return {FeedEvent{"error", ended.error_json}};
}

bool StreamJobEvents(const ServerState& state, Job& job, Poco::Net::HTTPServerRequest&,
                     Poco::Net::HTTPServerResponse& response,
                     const std::function<bool()>& peer_gone) {
  response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
  response.setContentType("text/event-stream");
  response.set("Cache-Control", "no-cache");
  response.set("X-Accel-Buffering", "no");  // proxies: pass events on at once
  response.set("X-Job-Id", job.id());
  response.setChunkedTransferEncoding(true);
  try {
    std::ostream& out = response.send();
    for (size_t next = 0;;) {
      std::vector<FeedEvent> events;
      const bool ended = job.ReadFeed(next, &events, kPollSeconds);
      next += events.size();
      for (const FeedEvent& event : events) WriteEvent(out, event);
      out.flush();
      if (!out) return false;
      if (ended) break;
      if (peer_gone && peer_gone()) return false;
    }
    for (const FeedEvent& event : FinalEvents(state, job)) WriteEvent(out, event);
    out.flush();
    return static_cast<bool>(out);
  } catch (const Poco::Exception&) {
    return false;  // the client went away mid-stream
  }
}

}  // namespace flx
