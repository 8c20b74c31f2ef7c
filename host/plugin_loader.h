// Loads plugin libraries and checks them against the ABI rules before anything else runs.
//
// A library is opened with dlopen(RTLD_NOW | RTLD_LOCAL): every symbol resolves at load time
// (a broken plugin fails here, not mid-request) and plugins never see each other's symbols.
#ifndef FLX_HOST_PLUGIN_LOADER_H_
#define FLX_HOST_PLUGIN_LOADER_H_

#include <flx/flx.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "status.h"

namespace flx {

// One loaded plugin library. Unloaded (dlclose) when the last reference goes away, so keep
// a reference for as long as any instance created from it lives.
class PluginLibrary {
 public:
  ~PluginLibrary();
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;

  const std::string& path() const { return path_; }
  const flx_plugin_info& info() const { return *info_; }
  // The factory of `kind` named `type`, or NOT_FOUND listing the types the library offers.
  StatusOr<const flx_factory*> FindFactory(flx_kind kind, const std::string& type) const;

 private:
  friend class PluginLoader;
  PluginLibrary(std::string path, void* handle, const flx_plugin_info* info)
      : path_(std::move(path)), handle_(handle), info_(info) {}
  std::string path_;
  void* handle_;
  const flx_plugin_info* info_;
};

// Finds and loads libraries by name, once each per process: a library some loader loaded and
// that is still held (a stage kept across a reload holds its own) is shared, not initialised
// again, since a second flx_plugin_init would write the plugin's globals while its stages run.
class PluginLoader {
 public:
  explicit PluginLoader(std::vector<std::string> search_paths);

  // `name` is a path (contains '/'), or a library name looked up in the search paths as
  // NAME, NAME.so and libNAME.so. Errors say which files were tried and why each failed:
  // not found, not loadable (dlerror), not a plugin (no flx_plugin_init), init failed,
  // ABI major mismatch, plugin newer than the host, malformed table.
  StatusOr<std::shared_ptr<PluginLibrary>> Load(const std::string& name);

  const std::vector<std::string>& search_paths() const { return search_paths_; }

 private:
  StatusOr<std::shared_ptr<PluginLibrary>> LoadFile(const std::string& path);
  std::vector<std::string> search_paths_;
};

const char* KindName(flx_kind kind);

}  // namespace flx

#endif  // FLX_HOST_PLUGIN_LOADER_H_
