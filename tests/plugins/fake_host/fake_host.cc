#include "fake_host.h"

#include <dlfcn.h>

#include <cerrno>
#include <cstdlib>
#include <iterator>
#include <limits>

#include "flx/codes.hpp"

namespace flx::testing {
namespace {

flx_error* ErrorNew(flx_code code, const char* message) {
  return new flx_error{code, message ? message : "", {}};
}
void ErrorSetDetail(flx_error* error, const char* key, const char* value) {
  if (error && key) error->details[key] = value ? value : "";
}
flx_code ErrorCode(const flx_error* error) { return error ? error->code : FLX_OK; }
const char* ErrorMessage(const flx_error* error) { return error ? error->message.c_str() : ""; }
const char* ErrorDetail(const flx_error* error, const char* key) {
  if (!error || !key) return nullptr;
  auto it = error->details.find(key);
  return it == error->details.end() ? nullptr : it->second.c_str();
}
void ErrorFree(flx_error* error) { delete error; }

void Log(const flx_host* host, const flx_call*, flx_log_level, const char* message, size_t length) {
  if (!host) return;
  std::lock_guard<std::mutex> lock(host->mutex);
  host->log_lines.emplace_back(message, length);
}
int LogEnabled(const flx_host*, flx_log_level) { return 1; }

flx_error* TypeError(const flx_config* config, const char* key, const char* expected,
                     const std::string& text) {
  return ErrorNew(FLX_INVALID_ARGUMENT, (config->file + ":1:1: " + config->path + "." + key +
                                         ": expected " + expected + ", got \"" + text + "\"")
                                            .c_str());
}

// Looks `key` up; NULL with *found = 0 when absent.
const std::string* Lookup(const flx_config* config, const char* key, int* found) {
  *found = 0;
  if (!config || !key) return nullptr;
  auto it = config->scalars.find(key);
  if (it == config->scalars.end()) return nullptr;
  *found = 1;
  return &it->second;
}

flx_error* GetString(const flx_config* config, const char* key, int* found, const char** out) {
  const std::string* text = Lookup(config, key, found);
  if (text) *out = text->c_str();
  return nullptr;
}

flx_error* GetInt(const flx_config* config, const char* key, int* found, int64_t* out) {
  const std::string* text = Lookup(config, key, found);
  if (!text) return nullptr;
  char* end = nullptr;
  errno = 0;
  long long value = std::strtoll(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || errno == ERANGE) {
    *found = 0;
    return TypeError(config, key, "an integer", *text);
  }
  *out = value;
  return nullptr;
}

flx_error* GetDouble(const flx_config* config, const char* key, int* found, double* out) {
  const std::string* text = Lookup(config, key, found);
  if (!text) return nullptr;
  char* end = nullptr;
  double value = std::strtod(text->c_str(), &end);
  if (text->empty() || *end != '\0') {
    *found = 0;
    return TypeError(config, key, "a number", *text);
  }
  *out = value;
  return nullptr;
}

flx_error* GetBool(const flx_config* config, const char* key, int* found, int* out) {
  const std::string* text = Lookup(config, key, found);
  if (!text) return nullptr;
  if (*text != "true" && *text != "false") {
    *found = 0;
    return TypeError(config, key, "true or false", *text);
  }
  *out = *text == "true";
  return nullptr;
}

flx_error* GetNode(const flx_config* config, const char* key, int* found, const flx_config**) {
  Lookup(config, key, found);
  if (*found) {
    *found = 0;
    return TypeError(config, key, "a map or sequence", config->scalars.at(key));
  }
  return nullptr;
}

size_t Size(const flx_config*) { return 0; }
flx_error* At(const flx_config*, size_t index, const flx_config**) {
  return ErrorNew(FLX_OUT_OF_RANGE, ("index " + std::to_string(index) + " of a map").c_str());
}
size_t KeyCount(const flx_config* config) { return config ? config->scalars.size() : 0; }
const char* KeyAt(const flx_config* config, size_t index) {
  if (!config || index >= config->scalars.size()) return nullptr;
  auto it = config->scalars.begin();
  std::advance(it, index);
  return it->first.c_str();
}
const char* Scalar(const flx_config*) { return nullptr; }
flx_error* ConfigError(const flx_config* config, const char* message) {
  std::string where = config ? config->file + ":1:1: " + config->path : "<no config>";
  return ErrorNew(FLX_INVALID_ARGUMENT, (where + ": " + (message ? message : "")).c_str());
}

void Emit(const flx_host* host, const flx_call* call, const flx_event* event) {
  if (!host || !event) return;
  FakeEvent copy;
  copy.type = event->type;
  copy.request_id = call ? call->request_id : (event->request_id ? event->request_id : "");
  copy.name = event->name ? event->name : "";
  copy.message = event->message ? event->message : "";
  copy.value = event->value;
  copy.step = event->step;
  copy.total = event->total;
  copy.code = event->code;
  std::lock_guard<std::mutex> lock(host->mutex);
  host->events.push_back(std::move(copy));
}

int Cancelled(const flx_call* call) { return call && call->Poll() ? 1 : 0; }
double Deadline(const flx_call*) { return 0; }

flx_error* ResultAddImage(flx_result* result, uint32_t width, uint32_t height, uint32_t channels,
                          size_t stride, const uint8_t* pixels, uint64_t seed) {
  if (!result || !pixels || width == 0 || height == 0 || (channels != 3 && channels != 4) ||
      stride < size_t{width} * channels) {
    return ErrorNew(FLX_INVALID_ARGUMENT, "result_add_image: malformed image");
  }
  flx_result::Image image{width, height, channels, seed, {}};
  const size_t row = size_t{width} * channels;
  for (uint32_t y = 0; y < height; ++y) {
    image.pixels.insert(image.pixels.end(), pixels + y * stride, pixels + y * stride + row);
  }
  result->images.push_back(std::move(image));
  return nullptr;
}

void ResultSetParam(flx_result* result, const char* key, const char* value) {
  if (result && key) result->params[key] = value ? value : "";
}
void DecisionRetry(flx_decision* decision, const char* reason_code, const char*, uint32_t) {
  if (!decision) return;
  decision->retry = true;
  decision->reason_code = reason_code ? reason_code : "";
}
void DecisionSetOverride(flx_decision* decision, const char* key, const char* value) {
  if (decision && key) decision->overrides[key] = value ? value : "";
}
void BufferAppend(flx_buffer* buffer, const char* data, size_t length) {
  if (buffer && data) buffer->data.append(data, length);
}

int PreviewWanted(const flx_call* call, uint32_t step, uint32_t) {
  return call != nullptr && call->preview_steps.count(step) > 0 ? 1 : 0;
}

void Preview(const flx_host*, const flx_call* call, uint32_t step, uint32_t total, uint32_t width,
             uint32_t height, uint32_t channels, const uint8_t* pixels) {
  if (call == nullptr || pixels == nullptr) return;
  flx_call::Preview preview{step, total, width, height, channels, {}};
  preview.pixels.assign(pixels, pixels + size_t(width) * height * channels);
  call->AddPreview(std::move(preview));
}

const flx_host_api kApi = {
    sizeof(flx_host_api),
    FLX_ABI_MAJOR,
    FLX_ABI_MINOR,
    &ErrorNew,
    &ErrorSetDetail,
    &ErrorCode,
    &ErrorMessage,
    &ErrorDetail,
    &ErrorFree,
    &Log,
    &LogEnabled,
    &GetString,
    &GetInt,
    &GetDouble,
    &GetBool,
    &GetNode,
    &Size,
    &At,
    &KeyCount,
    &KeyAt,
    &Scalar,
    &ConfigError,
    &Emit,
    &Cancelled,
    &Deadline,
    &ResultAddImage,
    &ResultSetParam,
    &DecisionRetry,
    &DecisionSetOverride,
    &BufferAppend,
    &PreviewWanted,
    &Preview,
};

}  // namespace

const flx_host_api* FakeHostApi() { return &kApi; }

void ErrorDeleter::operator()(flx_error* error) const { ErrorFree(error); }

std::string Describe(const flx_error* error) {
  if (!error) return "OK";
  std::string text = std::string(flx::code_name(error->code)) + ": " + error->message;
  for (const auto& [key, value] : error->details) text += " [" + key + "=" + value + "]";
  return text;
}

std::unique_ptr<LoadedPlugin> LoadedPlugin::Open(const std::string& path, std::string* why) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    *why = std::string("dlopen failed: ") + dlerror();
    return nullptr;
  }
  auto init = reinterpret_cast<flx_plugin_init_fn>(dlsym(handle, FLX_PLUGIN_INIT_SYMBOL));
  if (!init) {
    *why = path + " does not export " FLX_PLUGIN_INIT_SYMBOL;
    dlclose(handle);
    return nullptr;
  }
  const flx_plugin_info* info = nullptr;
  ErrorPtr error(init(FakeHostApi(), &info));
  if (error || !info) {
    *why = "flx_plugin_init failed: " + Describe(error.get());
    dlclose(handle);
    return nullptr;
  }
  return std::unique_ptr<LoadedPlugin>(new LoadedPlugin(handle, info));
}

LoadedPlugin::~LoadedPlugin() { dlclose(handle_); }

const flx_factory* LoadedPlugin::Find(flx_kind kind, const std::string& type) const {
  for (size_t i = 0; i < info_->n_factories; ++i) {
    const flx_factory* factory = info_->factories[i];
    if (factory->kind == kind && type == factory->type_name) return factory;
  }
  return nullptr;
}

std::string PluginPath(const std::string& name) {
  const char* dir = std::getenv("FLX_PLUGIN_DIR");
  return dir ? std::string(dir) + "/" + name + ".so" : std::string();
}

std::unique_ptr<Instance> Instance::Create(const flx_factory& factory, const flx_host& host,
                                           const flx_config& config, ErrorPtr* error,
                                           uint32_t create_flags) {
  void* self = nullptr;
  error->reset(factory.create(&host, &config, create_flags, &self));
  if (*error) return nullptr;
  return std::unique_ptr<Instance>(new Instance(factory, self));
}

Instance::~Instance() { factory_.destroy(self_); }

std::string Instance::Describe(ErrorPtr* error) const {
  flx_buffer out;
  flx_error* (*describe)(void*, flx_buffer*) = nullptr;
  if (factory_.kind == FLX_KIND_SCHEDULER) describe = iface<flx_scheduler_iface>().describe;
  if (factory_.kind == FLX_KIND_PIPELINE) describe = iface<flx_pipeline_iface>().describe;
  if (!describe) {
    error->reset(ErrorNew(FLX_UNIMPLEMENTED, "this kind has no describe()"));
    return "";
  }
  error->reset(describe(self_, &out));
  return out.data;
}

flx_request DefaultRequest(const char* prompt, flx_call* call) {
  flx_request request{};
  request.struct_size = sizeof(flx_request);
  request.id = call ? call->request_id.c_str() : "req";
  request.model = "test-model";
  request.prompt = prompt;
  request.n = 1;
  request.guidance = std::numeric_limits<float>::quiet_NaN();
  request.call = call;
  return request;
}

}  // namespace flx::testing

std::vector<FakeEvent> flx_host::Events() const {
  std::lock_guard<std::mutex> lock(mutex);
  return events;
}

std::vector<FakeEvent> flx_host::EventsOfType(flx_event_type type) const {
  std::vector<FakeEvent> matching;
  for (const FakeEvent& event : Events()) {
    if (event.type == type) matching.push_back(event);
  }
  return matching;
}

bool flx_call::Poll() const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++polls_;
  }
  polled_.notify_all();
  return cancelled.load();
}

bool flx_call::WaitForPolls(int count, std::chrono::milliseconds patience) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return polled_.wait_for(lock, patience, [&] { return polls_ >= count; });
}

std::vector<flx_call::Preview> flx_call::Previews() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return previews_;
}

void flx_call::AddPreview(Preview preview) const {
  std::lock_guard<std::mutex> lock(mutex_);
  previews_.push_back(std::move(preview));
}
