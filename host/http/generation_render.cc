#include "http/generation_render.h"

#include <algorithm>
#include <utility>

#include "http/json_writer.h"
#include "image_encoder.h"

namespace flx {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

ApiError InternalError(const std::string& message) {
  ApiError e;
  e.message = message;
  e.code = "internal_error";
  return e;
}

// A fresh file name for a stored image: <request id>-<n>.<ext>, or img-<n>.<ext> when the
// request id would not make a safe name.
std::string StoredName(const ImageStorage& storage, ImageFormat format) {
  const std::string extension = ImageFormatExtension(format);
  const std::string name =
      storage.request_id + "-" + std::to_string(storage.next_number()) + "." + extension;
  if (OutputStore::IsSafeName(name)) return name;
  return "img-" + std::to_string(storage.next_number()) + "." + extension;
}

std::variant<std::vector<std::string>, ApiError> EncodeAll(const ImagesRequest& request,
                                                           const std::string& model,
                                                           const GenerationOutput& output) {
  std::vector<std::string> files;
  for (const auto& image : output.images) {
    PixelView view{image.width, image.height, image.channels, image.pixels.data()};
    auto bytes = EncodeImage(
        view, request.output_format,
        {{"Software", "fluxserve"}, {"Model", model}, {"Seed", std::to_string(image.seed)}},
        request.output_quality);
    if (!bytes.ok()) return InternalError(bytes.status().message());
    files.push_back(std::move(*bytes));
  }
  return files;
}

// Stage phases summed over tries, in order of first appearance.
std::vector<std::pair<std::string, double>> SummedPhases(flx_call& call) {
  std::vector<std::pair<std::string, double>> summed;
  std::lock_guard<std::mutex> lock(call.phases_mutex);
  for (const auto& [name, seconds] : call.phases) {
    auto it =
        std::find_if(summed.begin(), summed.end(), [&](const auto& s) { return s.first == name; });
    if (it == summed.end()) {
      summed.emplace_back(name, seconds);
    } else {
      it->second += seconds;
    }
  }
  return summed;
}

void WriteTimings(JsonWriter& w, const GenerationOutput& output, const EncodedImages& encoded,
                  flx_call& call, Clock::time_point start) {
  w.Key("timings").BeginObject();
  w.Key("queue_s").Number(output.queue_seconds);
  w.Key("generate_s").Number(output.generate_seconds);
  // Stage phases sit beside the host's own timings; a phase that would shadow one of them
  // (a stage calling its phase "queue", say) is renamed rather than duplicated.
  static const char* const kHostTimings[] = {"queue", "generate", "encode", FLX_PHASE_SAVE,
                                             "total"};
  for (const auto& [name, seconds] : SummedPhases(call)) {
    bool clashes = false;
    for (const char* host_key : kHostTimings) clashes |= name == host_key;
    w.Key((clashes ? "phase_" : "") + name + "_s").Number(seconds);
  }
  w.Key("encode_s").Number(encoded.encode_s);
  w.Key("save_s").Number(encoded.save_s);
  w.Key("total_s").Number(Seconds(start));
  w.EndObject();
}

void WriteData(JsonWriter& w, const ImagesRequest& request, const GenerationOutput& output,
               const EncodedImages& encoded) {
  w.Key("data").BeginArray();
  for (size_t i = 0; i < encoded.bytes.size(); ++i) {
    w.BeginObject();
    if (request.response_format == "url") {
      w.Key("url").String(encoded.urls[i]);
    } else {
      w.Key("b64_json").String(Base64Encode(encoded.bytes[i]));
    }
    w.Key("seed").UInt(output.images[i].seed);
    w.Key("revised_prompt").Null();
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace

std::variant<EncodedImages, ApiError> EncodeAndStore(
    const ImagesRequest& request, const std::string& model, const GenerationOutput& output,
    const ImageStorage& storage, const std::function<void(const char*, double)>& on_phase) {
  EncodedImages out;
  const Clock::time_point encode_start = Clock::now();
  auto files = EncodeAll(request, model, output);
  if (auto* error = std::get_if<ApiError>(&files)) return *error;
  out.bytes = std::move(std::get<std::vector<std::string>>(files));
  out.encode_s = Seconds(encode_start);
  if (on_phase) on_phase(FLX_PHASE_IMAGE_ENCODE, out.encode_s);
  if (request.response_format != "url") return out;
  const Clock::time_point save_start = Clock::now();
  for (const std::string& bytes : out.bytes) {
    const std::string name = StoredName(storage, request.output_format);
    Status saved = storage.store->Save(name, bytes);
    if (!saved.ok()) return InternalError("cannot store the image: " + saved.message());
    out.urls.push_back(storage.base_url + kImageFilesPrefix + name);
  }
  out.save_s = Seconds(save_start);
  if (on_phase) on_phase(FLX_PHASE_SAVE, out.save_s);
  return out;
}

std::string RenderGeneration(const ImagesRequest& request, const std::string& model,
                             const GenerationOutput& output, const EncodedImages& encoded,
                             flx_call& call, Clock::time_point start) {
  JsonWriter w;
  size_t payload = 0;
  for (const auto& e : encoded.bytes) payload += (e.size() + 2) / 3 * 4 + 64;
  w.Reserve(payload + 1024);
  w.BeginObject();
  w.Key("created").Int(std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
  WriteData(w, request, output, encoded);
  w.Key("model").String(model);
  w.Key("output_format").String(ImageFormatExtension(request.output_format));
  const auto& first = output.images.front();
  w.Key("size").String(std::to_string(first.width) + "x" + std::to_string(first.height));
  w.Key("parameters").BeginObject();
  for (const auto& [k, v] : output.params) w.Key(k).Scalar(v);
  w.Key("seed").UInt(request.input.seed);
  w.Key("n").UInt(request.input.n);
  w.EndObject();
  if (!output.fallbacks.empty()) {
    w.Key("fallback_reason").Raw(FallbackReasonJson(output.fallbacks, output.attempts));
  }
  WriteTimings(w, output, encoded, call, start);
  w.EndObject();
  return w.str();
}

}  // namespace flx
