#include "isolated_t5_tokenizer.h"

#include <dlfcn.h>

#include <mutex>
#include <stdexcept>

#include "io/tensor.h"

namespace flx::flux {

struct IsolatedT5Tokenizer::Module {
  void* library = nullptr;
  flx_t5_tokenizer_open_fn open = nullptr;
  flx_t5_tokenizer_encode_fn encode = nullptr;
  flx_t5_tokenizer_close_fn close = nullptr;

  ~Module() {
    if (library != nullptr) dlclose(library);
  }
};

namespace {

constexpr size_t kErrorSize = 1024;

// The folder of the shared object that contains this function.
std::string own_directory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&own_directory), &info) == 0 || info.dli_fname == nullptr) {
    throw LoadError("cannot locate the flux plugin's own file (dladdr failed)");
  }
  const std::string path = info.dli_fname;
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

template <class Fn>
Fn symbol(void* library, const char* name, const std::string& path) {
  void* address = dlsym(library, name);
  if (address == nullptr) throw LoadError(path + ": does not export " + name);
  return reinterpret_cast<Fn>(address);
}

}  // namespace

std::shared_ptr<const IsolatedT5Tokenizer::Module> IsolatedT5Tokenizer::shared_module(
    const std::string& module_dir) {
  static std::mutex mutex;
  static std::weak_ptr<const Module> cached;
  std::lock_guard<std::mutex> lock(mutex);
  if (std::shared_ptr<const Module> module = cached.lock()) return module;

  const std::string path =
      (module_dir.empty() ? own_directory() : module_dir) + "/" + FLX_T5_TOKENIZER_MODULE;
  auto module = std::make_shared<Module>();
  // RTLD_DEEPBIND: the module's own dependencies (libsentencepiece with its protobuf 3.14)
  // win over symbols already global, such as libtorch's protobuf 3.21 in an executable linked
  // with libtorch (the benchmark); inside a plugin loaded RTLD_LOCAL nothing clashes anyway.
  module->library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (module->library == nullptr) {
    const char* why = dlerror();
    throw LoadError(path + ": cannot load the T5 tokenizer module: " + (why ? why : "unknown"));
  }
  module->open = symbol<flx_t5_tokenizer_open_fn>(module->library, FLX_T5_TOKENIZER_OPEN, path);
  module->encode =
      symbol<flx_t5_tokenizer_encode_fn>(module->library, FLX_T5_TOKENIZER_ENCODE, path);
  module->close = symbol<flx_t5_tokenizer_close_fn>(module->library, FLX_T5_TOKENIZER_CLOSE, path);
  cached = module;
  return module;
}

IsolatedT5Tokenizer IsolatedT5Tokenizer::load(const std::string& dir,
                                              const std::string& module_dir) {
  std::shared_ptr<const Module> module = shared_module(module_dir);
  char error[kErrorSize] = "";
  flx_t5_tokenizer* handle = module->open(dir.c_str(), error, sizeof(error));
  if (handle == nullptr) throw LoadError(error);
  // The deleter keeps the module loaded until the handle is closed.
  auto close = [module](flx_t5_tokenizer* h) { module->close(h); };
  return IsolatedT5Tokenizer(module, std::shared_ptr<flx_t5_tokenizer>(handle, close));
}

std::vector<int32_t> IsolatedT5Tokenizer::encode(const std::string& text, size_t max_length) const {
  std::vector<int32_t> ids(max_length);
  char error[kErrorSize] = "";
  if (module_->encode(handle_.get(), text.c_str(), max_length, ids.data(), error, sizeof(error)) !=
      0) {
    throw std::invalid_argument(error);
  }
  return ids;
}

}  // namespace flx::flux
