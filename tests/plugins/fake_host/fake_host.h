// A minimal host for testing plugins without the fluxserve host: a complete flx_host_api
// whose services record what the plugin did (events, log lines, images, parameters), flat
// configs of scalar keys, and a loader that dlopen's a plugin the way the host does
// (RTLD_NOW | RTLD_LOCAL).
//
// It defines the ABI's opaque host structs, so a test binary links either this or the real
// host (fluxserve_core), never both.
#ifndef FLX_TESTS_PLUGINS_FAKE_HOST_FAKE_HOST_H_
#define FLX_TESTS_PLUGINS_FAKE_HOST_FAKE_HOST_H_

#include <flx/flx.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

// An error: code, message and string details.
struct flx_error {
  flx_code code = FLX_OK;
  std::string message;
  std::map<std::string, std::string> details;
};

// A flat YAML map whose values are scalars, read by the typed getters: integers are decimal,
// booleans are true/false, numbers anything strtod takes whole. Errors are located at
// "<file>:1:1: <path>: ..." so tests can check that plugins pass locations on.
struct flx_config {
  std::string file = "fake.yaml";
  std::string path = "config";
  std::map<std::string, std::string> scalars;
};

// One recorded event, its strings copied.
struct FakeEvent {
  flx_event_type type;
  std::string request_id;
  std::string name;
  std::string message;
  double value = 0;
  uint32_t step = 0;
  uint32_t total = 0;
  int32_t code = 0;
};

// One stage's context; records everything the stage emits or logs.
struct flx_host {
  std::string stage_id = "stage";
  mutable std::mutex mutex;
  mutable std::vector<FakeEvent> events;
  mutable std::vector<std::string> log_lines;

  std::vector<FakeEvent> Events() const;
  std::vector<FakeEvent> EventsOfType(flx_event_type type) const;
};

// One request's passage. A test cancels it by setting `cancelled`, and learns that a plugin
// is blocked inside a call (polling for cancellation) with WaitForPolls().
struct flx_call {
  struct Preview {
    uint32_t step = 0, total = 0, width = 0, height = 0, channels = 0;
    std::vector<uint8_t> pixels;
  };
  std::string request_id = "req-1";
  std::atomic<bool> cancelled{false};
  // The steps after which the host wants previews; what the plugin sent.
  std::set<uint32_t> preview_steps;
  std::vector<Preview> Previews() const;
  void AddPreview(Preview preview) const;

  // Called by cancelled(); counts the queries.
  bool Poll() const;
  // True once cancelled() was asked at least `count` times; false after `patience`.
  bool WaitForPolls(int count, std::chrono::milliseconds patience) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable polled_;
  mutable int polls_ = 0;
  mutable std::vector<Preview> previews_;
};

struct flx_result {
  struct Image {
    uint32_t width = 0, height = 0, channels = 0;
    uint64_t seed = 0;
    std::vector<uint8_t> pixels;  // rows without padding
  };
  std::vector<Image> images;
  std::map<std::string, std::string> params;
};

struct flx_decision {
  bool retry = false;
  std::string reason_code;
  std::map<std::string, std::string> overrides;
};

struct flx_buffer {
  std::string data;
};

namespace flx::testing {

// The process-wide table handed to plugins.
const flx_host_api* FakeHostApi();

// Owns an flx_error and frees it through the table, like the host does.
struct ErrorDeleter {
  void operator()(flx_error* error) const;
};
using ErrorPtr = std::unique_ptr<flx_error, ErrorDeleter>;

// "CODE: message" for assertion output; "OK" for no error.
std::string Describe(const flx_error* error);

// A plugin library opened with dlopen(RTLD_NOW | RTLD_LOCAL) and initialised with
// FakeHostApi(). Closed (dlclose) on destruction: destroy every instance first.
class LoadedPlugin {
 public:
  // Returns nullptr and sets *why (dlerror, missing symbol or the init error) on failure.
  static std::unique_ptr<LoadedPlugin> Open(const std::string& path, std::string* why);
  ~LoadedPlugin();
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;

  const flx_plugin_info& info() const { return *info_; }
  // The factory of `kind` called `type`, or nullptr.
  const flx_factory* Find(flx_kind kind, const std::string& type) const;

 private:
  LoadedPlugin(void* handle, const flx_plugin_info* info) : handle_(handle), info_(info) {}
  void* handle_;
  const flx_plugin_info* info_;
};

// "$FLX_PLUGIN_DIR/<name>.so", or "" when FLX_PLUGIN_DIR is unset.
std::string PluginPath(const std::string& name);

// One instance made by a factory; destroyed with the factory's destroy() when it goes away.
// `host` and `config` must outlive it.
class Instance {
 public:
  // Returns nullptr and sets *error when create() fails.
  static std::unique_ptr<Instance> Create(const flx_factory& factory, const flx_host& host,
                                          const flx_config& config, ErrorPtr* error,
                                          uint32_t create_flags = 0);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  void* self() const { return self_; }
  template <class Iface>
  const Iface& iface() const {
    return *static_cast<const Iface*>(factory_.iface);
  }
  // describe() of a scheduler or pipeline; sets *error on failure.
  std::string Describe(ErrorPtr* error) const;

 private:
  Instance(const flx_factory& factory, void* self) : factory_(factory), self_(self) {}
  const flx_factory& factory_;
  void* self_;
};

// A request with every field set to "use the default" and the given prompt.
flx_request DefaultRequest(const char* prompt, flx_call* call);

}  // namespace flx::testing

#endif  // FLX_TESTS_PLUGINS_FAKE_HOST_FAKE_HOST_H_
