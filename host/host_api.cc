#include "host_api.h"

#include <flx/vocabulary.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <new>

#include "config/config_node.h"
#include "error.h"
#include "http/json_writer.h"
#include "logging.h"

namespace {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Peer liveness costs a syscall; schedulers poll every few ms, so answers are reused briefly.
constexpr int64_t kPeerCheckIntervalUs = 5000;

void Log(const flx_host* host, const flx_call* call, flx_log_level level, const char* message,
         size_t length) {
  // No exception may cross the C ABI; under memory pressure this is dropped.
  try {
    if (host == nullptr || host->logger == nullptr || message == nullptr) return;
    auto spd_level = static_cast<spdlog::level::level_enum>(level);
    if (!host->logger->should_log(spd_level)) return;
    std::string_view text(message, length);
    flx::JsonWriter fields;
    fields.BeginObject();
    if (call != nullptr && !call->model.empty()) fields.Key("model").String(call->model);
    fields.EndObject();
    flx::LogWithRequest(*host->logger, spd_level, call ? call->request_id : std::string(), text,
                        fields.str());
  } catch (...) {
  }
}

int LogEnabled(const flx_host* host, flx_log_level level) {
  if (host == nullptr || host->logger == nullptr) return 0;
  return host->logger->should_log(static_cast<spdlog::level::level_enum>(level)) ? 1 : 0;
}

void Emit(const flx_host* host, const flx_call* call, const flx_event* event) {
  // No exception may cross the C ABI; under memory pressure this is dropped.
  try {
    if (host == nullptr || event == nullptr) return;
    // Copy what we understand of the plugin's (possibly shorter or longer) struct.
    flx_event e{};
    size_t n = event->struct_size < sizeof(flx_event) ? event->struct_size : sizeof(flx_event);
    std::memcpy(&e, event, n);
    e.struct_size = sizeof(flx_event);
    e.stage_id = host->stage_id.c_str();
    if (call != nullptr) {
      e.request_id = call->request_id.c_str();
      e.model = call->model.c_str();
      if (e.type == FLX_EVENT_PHASE && e.name != nullptr) {
        auto* mutable_call = const_cast<flx_call*>(call);
        std::lock_guard<std::mutex> lock(mutable_call->phases_mutex);
        mutable_call->phases.emplace_back(e.name, e.value);
      }
    }
    if (host->sink != nullptr) host->sink->Deliver(e);
    if (call != nullptr && call->observer) call->observer(e);
  } catch (...) {
  }
}

int PreviewWanted(const flx_call* call, uint32_t step, uint32_t total) {
  if (call == nullptr || !call->preview_wanted) return 0;
  return call->preview_wanted(step, total) ? 1 : 0;
}

void Preview(const flx_host*, const flx_call* call, uint32_t step, uint32_t total, uint32_t width,
             uint32_t height, uint32_t channels, const uint8_t* pixels) {
  // No exception may cross the C ABI; under memory pressure this is dropped.
  try {
    if (call == nullptr || !call->on_preview || pixels == nullptr) return;
    if (channels != 3 && channels != 4) return;
    if (width == 0 || height == 0 || width > FLX_MAX_IMAGE_SIDE || height > FLX_MAX_IMAGE_SIDE) {
      return;
    }
    call->on_preview(step, total, width, height, channels, pixels);
  } catch (...) {
  }
}

int Cancelled(const flx_call* call) {
  if (call == nullptr) return 0;
  return const_cast<flx_call*>(call)->IsCancelled() ? 1 : 0;
}

double Deadline(const flx_call* call) { return call ? call->deadline_epoch_s : 0; }

flx_error* ResultAddImage(flx_result* result, uint32_t width, uint32_t height, uint32_t channels,
                          size_t stride, const uint8_t* pixels, uint64_t seed) {
  if (result == nullptr || pixels == nullptr) {
    return flx::NewError(FLX_INVALID_ARGUMENT, "result_add_image: result and pixels are required");
  }
  if (width == 0 || height == 0 || (channels != 3 && channels != 4)) {
    return flx::NewError(FLX_INVALID_ARGUMENT,
                         "result_add_image: width and height must be > 0 and channels 3 or 4");
  }
  size_t row = size_t(width) * channels;
  if (stride < row) {
    return flx::NewError(FLX_INVALID_ARGUMENT, "result_add_image: stride is smaller than a row");
  }
  try {
    flx_result::Image image;
    image.width = width;
    image.height = height;
    image.channels = channels;
    image.seed = seed;
    image.pixels.resize(row * height);
    for (uint32_t y = 0; y < height; ++y) {
      std::memcpy(image.pixels.data() + y * row, pixels + y * stride, row);
    }
    result->images.push_back(std::move(image));
    return nullptr;
  } catch (const std::bad_alloc&) {
    return flx::NewError(FLX_RESOURCE_EXHAUSTED, "result_add_image: out of memory");
  }
}

void ResultSetParam(flx_result* result, const char* key, const char* value) {
  // No exception may cross the C ABI; under memory pressure this is dropped.
  try {
    if (result == nullptr || key == nullptr) return;
    result->params[key] = value ? value : "";
  } catch (...) {
  }
}

void DecisionRetry(flx_decision* decision, const char* reason_code, const char* message,
                   uint32_t delay_ms) {
  // No exception may cross the C ABI; under memory pressure this is dropped.
  try {
    if (decision == nullptr) return;
    decision->retry = true;
    decision->reason_code = reason_code ? reason_code : "retry";
    decision->message = message ? message : "";
    decision->delay_ms = delay_ms;
  } catch (...) {
  }
}

void DecisionSetOverride(flx_decision* decision, const char* key, const char* value) {
  // No exception may cross the C ABI; under memory pressure this is dropped.
  try {
    if (decision == nullptr || key == nullptr) return;
    for (auto& kv : decision->overrides) {
      if (kv.first == key) {
        kv.second = value ? value : "";
        return;
      }
    }
    decision->overrides.emplace_back(key, value ? value : "");
  } catch (...) {
  }
}

void BufferAppend(flx_buffer* buffer, const char* data, size_t length) {
  // No exception may cross the C ABI; under memory pressure this is dropped.
  try {
    if (buffer == nullptr || data == nullptr) return;
    buffer->data.append(data, length);
  } catch (...) {
  }
}

const flx_host_api kHostApi = {
    sizeof(flx_host_api),
    FLX_ABI_MAJOR,
    FLX_ABI_MINOR,
    &flx::ApiErrorNew,
    &flx::ApiErrorSetDetail,
    &flx::ApiErrorCode,
    &flx::ApiErrorMessage,
    &flx::ApiErrorDetail,
    &flx::ApiErrorFree,
    &Log,
    &LogEnabled,
    &flx::ConfigGetString,
    &flx::ConfigGetInt,
    &flx::ConfigGetDouble,
    &flx::ConfigGetBool,
    &flx::ConfigGetNode,
    &flx::ConfigSize,
    &flx::ConfigAt,
    &flx::ConfigKeyCount,
    &flx::ConfigKeyAt,
    &flx::ConfigScalar,
    &flx::ConfigError,
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

bool flx_call::IsCancelled() {
  if (cancelled.load(std::memory_order_relaxed)) return true;
  if (deadline_epoch_s > 0) {
    double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (now >= deadline_epoch_s) return true;
  }
  if (peer_gone && !peer_gone_seen_.load(std::memory_order_relaxed)) {
    int64_t now = NowMicros();
    int64_t last = last_peer_check_us_.load(std::memory_order_relaxed);
    if (now - last >= kPeerCheckIntervalUs &&
        last_peer_check_us_.compare_exchange_strong(last, now)) {
      if (peer_gone()) peer_gone_seen_.store(true);
    }
  }
  return peer_gone_seen_.load(std::memory_order_relaxed);
}

namespace flx {

const flx_host_api* HostApi() { return &kHostApi; }

}  // namespace flx
