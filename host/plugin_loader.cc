#include "plugin_loader.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstddef>

#include "config/declared_settings.h"
#include "error.h"
#include "host_api.h"

namespace flx {
namespace {
// Sanitizer builds keep unloaded plugins mapped so leak and race reports can name their code
// (a report about an unmapped library reads "<unknown module>").
#ifdef FLX_SANITIZER_BUILD
constexpr int kKeepLoadedFlag = RTLD_NODELETE;
#else
constexpr int kKeepLoadedFlag = 0;
#endif


bool IsFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The interface struct size each kind had at ABI minor 0: anything shorter is malformed.
size_t MinimalIfaceSize(flx_kind kind) {
  switch (kind) {
    case FLX_KIND_SCHEDULER: return offsetof(flx_scheduler_iface, describe) + sizeof(void*);
    case FLX_KIND_PIPELINE: return offsetof(flx_pipeline_iface, describe) + sizeof(void*);
    case FLX_KIND_RECOVERY: return offsetof(flx_recovery_iface, decide) + sizeof(void*);
    case FLX_KIND_METRICS: return offsetof(flx_metrics_iface, describe_model) + sizeof(void*);
    case FLX_KIND_QUEUE: return offsetof(flx_queue_iface, describe) + sizeof(void*);  // 1.3
    case FLX_KIND_RANGE_: break;
  }
  return SIZE_MAX;
}

constexpr size_t kMinimalInfoSize = offsetof(flx_plugin_info, factories) + sizeof(void*);
constexpr size_t kMinimalFactorySize = offsetof(flx_factory, iface) + sizeof(void*);

Status CheckTable(const std::string& path, const flx_plugin_info* info) {
  if (info->struct_size < kMinimalInfoSize) {
    return FailedPrecondition(path + ": plugin info struct_size " +
                              std::to_string(info->struct_size) + " is smaller than the " +
                              std::to_string(kMinimalInfoSize) + " bytes ABI 1.0 requires");
  }
  if (info->abi_major != FLX_ABI_MAJOR) {
    return FailedPrecondition(path + ": built for plugin ABI " + std::to_string(info->abi_major) +
                              "." + std::to_string(info->abi_minor) + ", this host speaks " +
                              std::to_string(FLX_ABI_MAJOR) + "." +
                              std::to_string(FLX_ABI_MINOR) + " (majors must match)");
  }
  if (info->abi_minor > FLX_ABI_MINOR) {
    return FailedPrecondition(path + ": built for plugin ABI " + std::to_string(info->abi_major) +
                              "." + std::to_string(info->abi_minor) +
                              ", newer than this host's " + std::to_string(FLX_ABI_MAJOR) + "." +
                              std::to_string(FLX_ABI_MINOR) + ": upgrade fluxserve");
  }
  if (info->n_factories > 0 && info->factories == nullptr) {
    return FailedPrecondition(path + ": plugin info lists factories but the table is NULL");
  }
  for (size_t i = 0; i < info->n_factories; ++i) {
    const flx_factory* f = info->factories[i];
    std::string where = path + ": factory #" + std::to_string(i);
    if (f == nullptr) return FailedPrecondition(where + " is NULL");
    if (f->struct_size < kMinimalFactorySize) {
      return FailedPrecondition(where + ": struct_size " + std::to_string(f->struct_size) +
                                " is smaller than the " + std::to_string(kMinimalFactorySize) +
                                " bytes ABI 1.0 requires");
    }
    if (f->type_name == nullptr || f->create == nullptr || f->destroy == nullptr ||
        f->iface == nullptr) {
      return FailedPrecondition(where + ": type_name, create, destroy and iface are required");
    }
    size_t minimal = MinimalIfaceSize(f->kind);
    if (minimal == SIZE_MAX) {
      return FailedPrecondition(where + " ('" + f->type_name + "'): unknown kind " +
                                std::to_string(int(f->kind)));
    }
    StatusOr<std::vector<DeclaredSetting>> declared =
        ReadDeclaredSettings(*f, where + " ('" + f->type_name + "')");
    if (!declared.ok()) return declared.status();
    size_t iface_size = *static_cast<const size_t*>(f->iface);
    if (iface_size < minimal) {
      return FailedPrecondition(where + " ('" + f->type_name + "'): " + KindName(f->kind) +
                                " interface struct_size " + std::to_string(iface_size) +
                                " is smaller than the " + std::to_string(minimal) +
                                " bytes ABI 1.0 requires");
    }
  }
  return Status::Ok();
}

}  // namespace

const char* KindName(flx_kind kind) {
  switch (kind) {
    case FLX_KIND_SCHEDULER: return "scheduler";
    case FLX_KIND_PIPELINE: return "pipeline";
    case FLX_KIND_RECOVERY: return "recovery";
    case FLX_KIND_METRICS: return "metrics";
    case FLX_KIND_QUEUE: return "queue";
    case FLX_KIND_RANGE_: break;
  }
  return "unknown";
}

PluginLibrary::~PluginLibrary() {
  if (handle_ != nullptr) ::dlclose(handle_);
}

StatusOr<const flx_factory*> PluginLibrary::FindFactory(flx_kind kind,
                                                        const std::string& type) const {
  std::string offered;
  for (size_t i = 0; i < info_->n_factories; ++i) {
    const flx_factory* f = info_->factories[i];
    if (f->kind == kind && type == f->type_name) return f;
    if (f->kind == kind) offered += std::string(offered.empty() ? "" : ", ") + f->type_name;
  }
  return NotFound(path_ + " has no " + KindName(kind) + " type '" + type + "'" +
                  (offered.empty() ? std::string(" (it offers no ") + KindName(kind) + " types)"
                                   : " (it offers: " + offered + ")"));
}

PluginLoader::PluginLoader(std::vector<std::string> search_paths)
    : search_paths_(std::move(search_paths)) {}

StatusOr<std::shared_ptr<PluginLibrary>> PluginLoader::Load(const std::string& name) {
  if (name.empty()) return InvalidArgument("plugin library name is empty");
  std::vector<std::string> candidates;
  if (name.find('/') != std::string::npos) {
    candidates.push_back(name);
  } else {
    for (const auto& dir : search_paths_) {
      for (const std::string& file : {name, name + ".so", "lib" + name + ".so"}) {
        candidates.push_back(dir + "/" + file);
      }
    }
  }
  for (const auto& path : candidates) {
    if (IsFile(path)) return LoadFile(path);
  }
  std::string tried;
  for (const auto& c : candidates) tried += "\n  " + c;
  if (candidates.empty()) tried = " (no plugin_paths configured)";
  return NotFound("plugin library '" + name + "' not found; tried:" + tried);
}

namespace {

// The libraries loaded in this process, by resolved path (every PluginLoader shares them).
struct LoadedLibraries {
  std::mutex mutex;
  std::map<std::string, std::weak_ptr<PluginLibrary>> by_path;
};

LoadedLibraries& Loaded() {
  static LoadedLibraries* loaded = new LoadedLibraries;  // never destroyed: used at exit
  return *loaded;
}

}  // namespace

StatusOr<std::shared_ptr<PluginLibrary>> PluginLoader::LoadFile(const std::string& path) {
  LoadedLibraries& loaded = Loaded();
  std::lock_guard<std::mutex> lock(loaded.mutex);
  char resolved[PATH_MAX];
  std::string key = ::realpath(path.c_str(), resolved) ? std::string(resolved) : path;
  auto it = loaded.by_path.find(key);
  if (it != loaded.by_path.end()) {
    if (auto lib = it->second.lock()) return lib;
  }
  ::dlerror();
  void* handle = ::dlopen(key.c_str(), RTLD_NOW | RTLD_LOCAL | kKeepLoadedFlag);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return FailedPrecondition(path + ": cannot be loaded: " + (why ? why : "unknown dlopen error"));
  }
  auto init = reinterpret_cast<flx_plugin_init_fn>(::dlsym(handle, FLX_PLUGIN_INIT_SYMBOL));
  if (init == nullptr) {
    ::dlclose(handle);
    return FailedPrecondition(path + ": not a fluxserve plugin: it does not export " +
                              FLX_PLUGIN_INIT_SYMBOL);
  }
  const flx_plugin_info* info = nullptr;
  Status init_status = ConsumeError(init(HostApi(), &info));
  if (!init_status.ok()) {
    ::dlclose(handle);
    return Status(init_status.code(),
                  path + ": " + FLX_PLUGIN_INIT_SYMBOL + " failed: " + init_status.message());
  }
  if (info == nullptr) {
    ::dlclose(handle);
    return FailedPrecondition(path + ": " + FLX_PLUGIN_INIT_SYMBOL +
                              " succeeded but returned no plugin info");
  }
  Status table = CheckTable(path, info);
  if (!table.ok()) {
    ::dlclose(handle);
    return table;
  }
  std::shared_ptr<PluginLibrary> lib(new PluginLibrary(key, handle, info));
  loaded.by_path[key] = lib;
  return lib;
}

}  // namespace flx
