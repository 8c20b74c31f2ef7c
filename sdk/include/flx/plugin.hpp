// plugin.hpp — the header-only C++ side of the hourglass for plugin authors.
//
// A plugin is a class per stage type plus one macro:
//
//   class MyScheduler : public flx::Scheduler {
//    public:
//     explicit MyScheduler(const flx::StageContext& ctx) { limit_ = ctx.config.get_int("limit", 4); }
//     flx::Ticket admit(const flx_request& r, const flx_admission& a) override { ... }
//     void release(flx::Ticket t, double seconds) override { ... }
//   };
//   FLX_PLUGIN("my_plugin", "1.0.0",
//              flx::scheduler_factory<MyScheduler>("by_length", "1.0.0"))
//
// Every exception thrown by plugin code is caught at the boundary and returned as an
// flx_error: flx::Error keeps its code, std::bad_alloc becomes RESOURCE_EXHAUSTED, anything
// else INTERNAL. Nothing C++ crosses the ABI.
#ifndef FLX_PLUGIN_HPP_
#define FLX_PLUGIN_HPP_

#include <flx/flx.h>

#include <cstdint>
#include <exception>
#include <map>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flx {

// The host's service table, set by flx_plugin_init before any other entry point runs.
// Each plugin library has its own copy (plugins are built with hidden visibility).
inline const flx_host_api*& host_api() {
  static const flx_host_api* api = nullptr;
  return api;
}

// An error raised inside a plugin; becomes an flx_error at the boundary.
class Error : public std::runtime_error {
 public:
  Error(flx_code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Error& detail(std::string key, std::string value) {
    details_.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  flx_code code() const { return code_; }
  const std::vector<std::pair<std::string, std::string>>& details() const { return details_; }

 private:
  flx_code code_;
  std::vector<std::pair<std::string, std::string>> details_;
};

// Converts the exception in flight into an flx_error the host will own.
inline flx_error* error_from_current_exception() {
  const flx_host_api* api = host_api();
  try {
    throw;
  } catch (const Error& e) {
    flx_error* err = api->error_new(e.code(), e.what());
    for (const auto& [k, v] : e.details()) api->error_set_detail(err, k.c_str(), v.c_str());
    return err;
  } catch (const std::bad_alloc& e) {
    return api->error_new(FLX_RESOURCE_EXHAUSTED, (std::string("out of memory: ") + e.what()).c_str());
  } catch (const std::exception& e) {
    return api->error_new(FLX_INTERNAL, e.what());
  } catch (...) {
    return api->error_new(FLX_INTERNAL, "unknown exception in plugin");
  }
}

// Turns a host-returned error into an exception (takes ownership of `err`).
inline void throw_if_error(flx_error* err) {
  if (err == nullptr) return;
  const flx_host_api* api = host_api();
  Error e(api->error_code(err), api->error_message(err));
  api->error_free(err);
  throw e;
}

// Throws one INVALID_ARGUMENT error listing every message, one per line, so a stage reports
// all of its bad config keys at once; does nothing when `messages` is empty.
inline void throw_config_errors(const std::vector<std::string>& messages) {
  if (messages.empty()) return;
  std::string joined;
  for (const std::string& message : messages) {
    if (!joined.empty()) joined += '\n';
    joined += message;
  }
  throw Error(FLX_INVALID_ARGUMENT, joined);
}

// A read-only view of a YAML node. Lookups of keys of the wrong type throw an Error whose
// message names file:line:col.
class Config {
 public:
  Config() = default;
  explicit Config(const flx_config* node) : node_(node) {}
  const flx_config* raw() const { return node_; }
  explicit operator bool() const { return node_ != nullptr; }

  std::optional<std::string> string(const char* key) const {
    int found = 0;
    const char* out = nullptr;
    throw_if_error(host_api()->config_get_string(node_, key, &found, &out));
    if (!found) return std::nullopt;
    return std::string(out);
  }
  std::optional<int64_t> integer(const char* key) const {
    int found = 0;
    int64_t out = 0;
    throw_if_error(host_api()->config_get_int(node_, key, &found, &out));
    if (!found) return std::nullopt;
    return out;
  }
  std::optional<double> number(const char* key) const {
    int found = 0;
    double out = 0;
    throw_if_error(host_api()->config_get_double(node_, key, &found, &out));
    if (!found) return std::nullopt;
    return out;
  }
  std::optional<bool> boolean(const char* key) const {
    int found = 0;
    int out = 0;
    throw_if_error(host_api()->config_get_bool(node_, key, &found, &out));
    if (!found) return std::nullopt;
    return out != 0;
  }
  // The child node at `key`; an empty Config when absent.
  Config node(const char* key) const {
    int found = 0;
    const flx_config* out = nullptr;
    throw_if_error(host_api()->config_get_node(node_, key, &found, &out));
    return found ? Config(out) : Config();
  }
  std::string get_string(const char* key, const std::string& fallback) const {
    return string(key).value_or(fallback);
  }
  int64_t get_int(const char* key, int64_t fallback) const { return integer(key).value_or(fallback); }
  double get_double(const char* key, double fallback) const { return number(key).value_or(fallback); }
  bool get_bool(const char* key, bool fallback) const { return boolean(key).value_or(fallback); }

  size_t size() const { return node_ ? host_api()->config_size(node_) : 0; }
  Config at(size_t index) const {
    const flx_config* out = nullptr;
    throw_if_error(host_api()->config_at(node_, index, &out));
    return Config(out);
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    if (!node_) return out;
    size_t n = host_api()->config_key_count(node_);
    for (size_t i = 0; i < n; ++i) out.emplace_back(host_api()->config_key_at(node_, i));
    return out;
  }
  std::optional<std::string> scalar() const {
    const char* s = node_ ? host_api()->config_scalar(node_) : nullptr;
    if (!s) return std::nullopt;
    return std::string(s);
  }
  // An exception locating `message` at this node (file:line:col: path: message).
  Error error(const std::string& message) const {
    flx_error* err = host_api()->config_error(node_, message.c_str());
    Error e(host_api()->error_code(err), host_api()->error_message(err));
    host_api()->error_free(err);
    return e;
  }

 private:
  const flx_config* node_ = nullptr;
};

// Logging and events for one stage.
class Host {
 public:
  Host() = default;
  explicit Host(const flx_host* host) : host_(host) {}
  const flx_host* raw() const { return host_; }

  void log(flx_log_level level, std::string_view message, const flx_call* call = nullptr) const {
    host_api()->log(host_, call, level, message.data(), message.size());
  }
  bool log_enabled(flx_log_level level) const { return host_api()->log_enabled(host_, level) != 0; }
  void debug(std::string_view m, const flx_call* c = nullptr) const { log(FLX_LOG_DEBUG, m, c); }
  void info(std::string_view m, const flx_call* c = nullptr) const { log(FLX_LOG_INFO, m, c); }
  void warn(std::string_view m, const flx_call* c = nullptr) const { log(FLX_LOG_WARN, m, c); }
  void error(std::string_view m, const flx_call* c = nullptr) const { log(FLX_LOG_ERROR, m, c); }

  // Emits an event; `event.struct_size` is set here.
  void emit(flx_event event, const flx_call* call = nullptr) const {
    event.struct_size = sizeof(flx_event);
    host_api()->emit(host_, call, &event);
  }
  void emit_phase(const flx_call* call, const char* phase, double seconds) const {
    flx_event e{};
    e.type = FLX_EVENT_PHASE;
    e.name = phase;
    e.value = seconds;
    emit(e, call);
  }
  void emit_step(const flx_call* call, uint32_t step, uint32_t total, double seconds) const {
    flx_event e{};
    e.type = FLX_EVENT_STEP;
    e.step = step;
    e.total = total;
    e.value = seconds;
    emit(e, call);
  }
  void emit_gauge(const char* gauge, double value, const flx_call* call = nullptr) const {
    flx_event e{};
    e.type = FLX_EVENT_GAUGE;
    e.name = gauge;
    e.value = value;
    emit(e, call);
  }
  static bool cancelled(const flx_call* call) { return call && host_api()->cancelled(call) != 0; }

  // Previews (ABI 1.2; a 1.1 host wants none): whether the host wants one after `step` of
  // `total`, and handing one over (8-bit RGB or RGBA rows, copied).
  static bool preview_wanted(const flx_call* call, uint32_t step, uint32_t total) {
    const flx_host_api* api = host_api();
    return call && FLX_HAS_FIELD(flx_host_api, api, preview) &&
           api->preview_wanted(call, step, total) != 0;
  }
  void preview(const flx_call* call, uint32_t step, uint32_t total, uint32_t width,
               uint32_t height, uint32_t channels, const uint8_t* pixels) const {
    const flx_host_api* api = host_api();
    if (!call || !FLX_HAS_FIELD(flx_host_api, api, preview)) return;
    api->preview(host_, call, step, total, width, height, channels, pixels);
  }

 private:
  const flx_host* host_ = nullptr;
};

// What a stage's constructor receives.
struct StageContext {
  Host host;
  Config config;
  bool dry_run = false;
};

// Appends to a host buffer.
inline void append(flx_buffer* buffer, std::string_view text) {
  host_api()->buffer_append(buffer, text.data(), text.size());
}

// Base classes, one per kind. Override what your stage does; defaults are no-ops.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // Blocks until admitted; returns a token handed back to release(). Throw flx::Error to refuse.
  virtual void* admit(const flx_request& request, const flx_admission& admission) = 0;
  virtual void release(void* ticket, double seconds) = 0;
  virtual std::string describe() { return "{}"; }  // a JSON object
};

class Pipeline {
 public:
  virtual ~Pipeline() = default;
  virtual void prepare() {}
  virtual void generate(const flx_request& request, flx_result* result) = 0;
  virtual std::string describe() { return "{}"; }  // a JSON object
  // Gives back what prepare() loaded; prepare() runs again before the next generate().
  virtual void unload() { throw Error(FLX_UNIMPLEMENTED, "this pipeline cannot unload"); }
};

class Recovery {
 public:
  virtual ~Recovery() = default;
  virtual void decide(const flx_request& request, const flx_error* failure, uint32_t attempt,
                      flx_decision* decision) = 0;
};

class Metrics {
 public:
  virtual ~Metrics() = default;
  virtual void observe(const flx_event& event) = 0;
  // Returns false when `path` is not served by this stage.
  virtual bool http_get(const std::string& path, std::string* body, const char** content_type) {
    (void)path;
    (void)body;
    (void)content_type;
    return false;
  }
  virtual std::string describe_model(const std::string& model) {
    (void)model;
    return "{}";
  }
};

// A job queue several replicas share (ABI 1.3; see flx_queue_iface for the contract). Records
// and event lists are returned as JSON text; `Fields` are a record's string members in order.
class Queue {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;
  virtual ~Queue() = default;
  virtual void submit(const std::string& job_id, const std::string& model, const Fields& record,
                      const std::string& payload) = 0;
  virtual std::string get(const std::string& job_id) = 0;  // a JSON object
  // `status` empty = every status; returns a JSON array.
  virtual std::string list(const std::string& status, uint32_t limit) = 0;
  virtual void cancel(const std::string& job_id) = 0;
  virtual void append_event(const std::string& job_id, const std::string& name,
                            const std::string& data) = 0;
  virtual std::string read_events(const std::string& job_id, const std::string& after,
                                  uint32_t wait_ms) = 0;  // a JSON array
  // A JSON object, or "" when no job came within wait_ms.
  virtual std::string claim(const std::string& model, uint32_t wait_ms) = 0;
  // Returns whether the job was asked to stop.
  virtual bool update(const std::string& job_id, const Fields& fields) = 0;
  virtual void finish(const std::string& job_id, const Fields& fields) = 0;
  virtual void check() {}  // throw flx::Error(FLX_UNAVAILABLE, why) when unreachable
  virtual std::string describe() { return "{}"; }
};

namespace detail {

template <class T>
flx_error* create(const flx_host* host, const flx_config* config, uint32_t flags, void** self) {
  try {
    StageContext ctx{Host(host), Config(config), (flags & FLX_CREATE_DRY_RUN) != 0};
    T* instance = new T(ctx);
    *self = static_cast<void*>(instance);
    return nullptr;
  } catch (...) {
    return error_from_current_exception();
  }
}

template <class T>
void destroy(void* self) {
  delete static_cast<T*>(self);
}

template <class T>
struct Trampolines {
  static flx_error* sched_admit(void* self, const flx_request* r, const flx_admission* a,
                                flx_ticket** ticket) {
    try {
      void* t = static_cast<T*>(self)->admit(*r, *a);
      *ticket = static_cast<flx_ticket*>(t);
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static void sched_release(void* self, flx_ticket* ticket, double seconds) {
    if (ticket == nullptr) return;
    try {
      static_cast<T*>(self)->release(static_cast<void*>(ticket), seconds);
    } catch (...) {
      flx_error* e = error_from_current_exception();
      host_api()->error_free(e);
    }
  }
  static flx_error* describe(void* self, flx_buffer* out) {
    try {
      append(out, static_cast<T*>(self)->describe());
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static flx_error* pipe_prepare(void* self) {
    try {
      static_cast<T*>(self)->prepare();
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static flx_error* pipe_unload(void* self) {
    try {
      static_cast<T*>(self)->unload();
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static flx_error* pipe_generate(void* self, const flx_request* r, flx_result* result) {
    try {
      static_cast<T*>(self)->generate(*r, result);
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static flx_error* rec_decide(void* self, const flx_request* r, const flx_error* failure,
                               uint32_t attempt, flx_decision* decision) {
    try {
      static_cast<T*>(self)->decide(*r, failure, attempt, decision);
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static void met_observe(void* self, const flx_event* event) {
    try {
      static_cast<T*>(self)->observe(*event);
    } catch (...) {
      host_api()->error_free(error_from_current_exception());
    }
  }
  static flx_error* met_http_get(void* self, const char* path, flx_buffer* body,
                                 const char** content_type) {
    try {
      std::string text;
      const char* type = "text/plain; charset=utf-8";
      if (!static_cast<T*>(self)->http_get(path, &text, &type)) {
        return host_api()->error_new(FLX_NOT_FOUND, "not served by this stage");
      }
      append(body, text);
      *content_type = type;
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static flx_error* met_describe_model(void* self, const char* model, flx_buffer* out) {
    try {
      append(out, static_cast<T*>(self)->describe_model(model));
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static Queue::Fields fields(const flx_kv* kv, size_t n) {
    Queue::Fields out;
    for (size_t i = 0; i < n; ++i) out.emplace_back(kv[i].key, kv[i].value);
    return out;
  }
  static flx_error* q_submit(void* self, const char* id, const char* model, const flx_kv* record,
                             size_t n_record, const char* payload) {
    try {
      static_cast<T*>(self)->submit(id, model, fields(record, n_record), payload);
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static flx_error* q_get(void* self, const char* id, flx_buffer* out) {
    try {
      append(out, static_cast<T*>(self)->get(id));
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static flx_error* q_list(void* self, const char* status, uint32_t limit, flx_buffer* out) {
    try {
      append(out, static_cast<T*>(self)->list(status == nullptr ? "" : status, limit));
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static flx_error* q_cancel(void* self, const char* id) {
    try {
      static_cast<T*>(self)->cancel(id);
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static flx_error* q_append_event(void* self, const char* id, const char* name,
                                   const char* data) {
    try {
      static_cast<T*>(self)->append_event(id, name, data);
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static flx_error* q_read_events(void* self, const char* id, const char* after, uint32_t wait_ms,
                                  flx_buffer* out) {
    try {
      append(out, static_cast<T*>(self)->read_events(id, after, wait_ms));
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static flx_error* q_claim(void* self, const char* model, uint32_t wait_ms, flx_buffer* out) {
    try {
      append(out, static_cast<T*>(self)->claim(model, wait_ms));
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static flx_error* q_update(void* self, const char* id, const flx_kv* kv, size_t n,
                             int* cancel_requested) {
    try {
      const bool cancel = static_cast<T*>(self)->update(id, fields(kv, n));
      if (cancel_requested != nullptr) *cancel_requested = cancel ? 1 : 0;
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static flx_error* q_finish(void* self, const char* id, const flx_kv* kv, size_t n) {
    try {
      static_cast<T*>(self)->finish(id, fields(kv, n));
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
  static flx_error* q_check(void* self) {
    try {
      static_cast<T*>(self)->check();
      return nullptr;
    } catch (...) {
      return error_from_current_exception();
    }
  }
};

}  // namespace detail

// One operator setting (flx_setting, ABI 1.2) for the factory builders below. Every string
// must be a literal or NULL (stored, not copied).
constexpr flx_setting setting(const char* key, flx_setting_type type, const char* env,
                              const char* cli_flag, const char* value_name, const char* help,
                              const char* oneshot_value = nullptr, uint32_t flags = 0) {
  return flx_setting{sizeof(flx_setting), key,  type,          env,  cli_flag,
                     value_name,          help, oneshot_value, flags};
}

// The settings a factory declares: a static array of flx_setting, e.g.
//   static const flx_setting kSettings[] = {flx::setting("steps", FLX_SETTING_INT, ...)};
//   flx::pipeline_factory<MyPipeline>("mine", "1.0.0", 0, flx::settings(kSettings))
struct SettingList {
  const flx_setting* items = nullptr;
  size_t count = 0;
};
template <size_t N>
constexpr SettingList settings(const flx_setting (&items)[N]) {
  return SettingList{items, N};
}

namespace detail {
// The pointer table flx_factory.settings wants, built once per factory (static storage).
inline std::vector<const flx_setting*> setting_pointers(SettingList list) {
  std::vector<const flx_setting*> pointers;
  for (size_t i = 0; i < list.count; ++i) pointers.push_back(&list.items[i]);
  return pointers;
}
}  // namespace detail

// Factory builders. Each returns a pointer to a static flx_factory for T; `type_name` and
// `version` must be string literals (they are stored, not copied); `declared` the settings
// (static too). Only the first call's arguments count.
template <class T>
const flx_factory* scheduler_factory(const char* type_name, const char* version,
                                     uint32_t flags = FLX_FLAG_THREADSAFE,
                                     SettingList declared = {}) {
  static const flx_scheduler_iface iface = {sizeof(flx_scheduler_iface),
                                            &detail::Trampolines<T>::sched_admit,
                                            &detail::Trampolines<T>::sched_release,
                                            &detail::Trampolines<T>::describe};
  static const std::vector<const flx_setting*> pointers = detail::setting_pointers(declared);
  static const flx_factory factory = {sizeof(flx_factory), FLX_KIND_SCHEDULER, type_name, version,
                                      flags, &detail::create<T>, &detail::destroy<T>, &iface,
                                      declared.count, pointers.data()};
  return &factory;
}

template <class T>
const flx_factory* pipeline_factory(const char* type_name, const char* version,
                                    uint32_t flags = 0, SettingList declared = {}) {
  static const flx_pipeline_iface iface = {sizeof(flx_pipeline_iface),
                                           &detail::Trampolines<T>::pipe_prepare,
                                           &detail::Trampolines<T>::pipe_generate,
                                           &detail::Trampolines<T>::describe,
                                           &detail::Trampolines<T>::pipe_unload};
  static const std::vector<const flx_setting*> pointers = detail::setting_pointers(declared);
  static const flx_factory factory = {sizeof(flx_factory), FLX_KIND_PIPELINE, type_name, version,
                                      flags, &detail::create<T>, &detail::destroy<T>, &iface,
                                      declared.count, pointers.data()};
  return &factory;
}

template <class T>
const flx_factory* recovery_factory(const char* type_name, const char* version,
                                    uint32_t flags = FLX_FLAG_THREADSAFE, SettingList declared = {}) {
  static const flx_recovery_iface iface = {sizeof(flx_recovery_iface),
                                           &detail::Trampolines<T>::rec_decide};
  static const std::vector<const flx_setting*> pointers = detail::setting_pointers(declared);
  static const flx_factory factory = {sizeof(flx_factory), FLX_KIND_RECOVERY, type_name, version,
                                      flags, &detail::create<T>, &detail::destroy<T>, &iface,
                                      declared.count, pointers.data()};
  return &factory;
}

template <class T>
const flx_factory* metrics_factory(const char* type_name, const char* version,
                                   uint32_t flags = FLX_FLAG_THREADSAFE, SettingList declared = {}) {
  static const flx_metrics_iface iface = {sizeof(flx_metrics_iface),
                                          &detail::Trampolines<T>::met_observe,
                                          &detail::Trampolines<T>::met_http_get,
                                          &detail::Trampolines<T>::met_describe_model};
  static const std::vector<const flx_setting*> pointers = detail::setting_pointers(declared);
  static const flx_factory factory = {sizeof(flx_factory), FLX_KIND_METRICS, type_name, version,
                                      flags, &detail::create<T>, &detail::destroy<T>, &iface,
                                      declared.count, pointers.data()};
  return &factory;
}

template <class T>
const flx_factory* queue_factory(const char* type_name, const char* version,
                                 uint32_t flags = FLX_FLAG_THREADSAFE, SettingList declared = {}) {
  using Tr = detail::Trampolines<T>;
  static const flx_queue_iface iface = {
      sizeof(flx_queue_iface), &Tr::q_submit,  &Tr::q_get,    &Tr::q_list,   &Tr::q_cancel,
      &Tr::q_append_event,     &Tr::q_read_events, &Tr::q_claim, &Tr::q_update, &Tr::q_finish,
      &Tr::q_check,            &Tr::describe};
  static const std::vector<const flx_setting*> pointers = detail::setting_pointers(declared);
  static const flx_factory factory = {sizeof(flx_factory), FLX_KIND_QUEUE, type_name, version,
                                      flags, &detail::create<T>, &detail::destroy<T>, &iface,
                                      declared.count, pointers.data()};
  return &factory;
}

// Recovery helpers.
inline void retry(flx_decision* decision, const std::string& reason_code,
                  const std::string& message, uint32_t delay_ms = 0) {
  host_api()->decision_retry(decision, reason_code.c_str(), message.c_str(), delay_ms);
}
inline void set_override(flx_decision* decision, const std::string& key, const std::string& value) {
  host_api()->decision_set_override(decision, key.c_str(), value.c_str());
}
inline flx_code error_code(const flx_error* e) { return host_api()->error_code(e); }
inline std::string error_message(const flx_error* e) { return host_api()->error_message(e); }

// Pipeline helpers.
inline void add_image(flx_result* result, uint32_t width, uint32_t height, uint32_t channels,
                      const uint8_t* pixels, uint64_t seed) {
  throw_if_error(host_api()->result_add_image(result, width, height, channels,
                                              size_t(width) * channels, pixels, seed));
}
inline void set_param(flx_result* result, const std::string& key, const std::string& value) {
  host_api()->result_set_param(result, key.c_str(), value.c_str());
}
// The request's overrides as a map (later entries win).
inline std::map<std::string, std::string> overrides(const flx_request& r) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < r.n_overrides; ++i) out[r.overrides[i].key] = r.overrides[i].value;
  return out;
}

namespace detail {
// A function (not an inline comparison) so that minor 0 does not trip -Wtype-limits.
inline bool older_minor(uint32_t host_minor, uint32_t plugin_minor) {
  return host_minor < plugin_minor;
}

// Shared body of flx_plugin_init: checks the host and publishes the plugin's table.
inline flx_error* plugin_init(const flx_host_api* api, const flx_plugin_info** out,
                              const flx_plugin_info* info) {
  if (api == nullptr || out == nullptr) return nullptr;  // nothing to report to
  if (api->abi_major != FLX_ABI_MAJOR) {
    return api->error_new(FLX_FAILED_PRECONDITION, "host ABI major differs from the plugin's");
  }
  if (api->struct_size < sizeof(flx_host_api) || older_minor(api->abi_minor, FLX_ABI_MINOR)) {
    return api->error_new(FLX_FAILED_PRECONDITION, "host ABI is older than the plugin's");
  }
  host_api() = api;
  *out = info;
  return nullptr;
}
}  // namespace detail

}  // namespace flx

// Defines the plugin's entry symbol. Arguments after name and version are factory
// pointers, e.g. flx::pipeline_factory<MyPipeline>("test", "1.0.0").
#define FLX_PLUGIN(plugin_name, plugin_version, ...)                                          \
  extern "C" FLX_EXPORT flx_error* flx_plugin_init(const flx_host_api* api,                   \
                                                   const flx_plugin_info** out) {              \
    try {                                                                                      \
      static const flx_factory* const factories[] = {__VA_ARGS__};                            \
      static const flx_plugin_info info = {sizeof(flx_plugin_info), FLX_ABI_MAJOR,             \
                                           FLX_ABI_MINOR,           plugin_name,               \
                                           plugin_version,          sizeof(factories) /        \
                                                                        sizeof(factories[0]), \
                                           factories};                                         \
      return ::flx::detail::plugin_init(api, out, &info);                                      \
    } catch (...) {                                                                            \
      return api->error_new(FLX_INTERNAL, "exception in flx_plugin_init");                    \
    }                                                                                          \
  }

#endif  // FLX_PLUGIN_HPP_
