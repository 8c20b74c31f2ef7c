// isolated_t5_tokenizer.h — io's T5Tokenizer used through flx_flux_t5_tokenizer.so, the module
// that keeps libsentencepiece (and its private protobuf) out of libtorch's symbol scope; see
// t5_tokenizer_module.h for why. The module is looked up next to the library holding this
// code (the plugin), i.e. in the same plugin folder, unless the first load names a folder
// (the benchmark, an executable, names the plugin folder).
#ifndef FLX_FLUX_PLUGIN_ISOLATED_T5_TOKENIZER_H_
#define FLX_FLUX_PLUGIN_ISOLATED_T5_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "t5_tokenizer_module.h"

namespace flx::flux {

class IsolatedT5Tokenizer {
 public:
  // Loads the module (once per process and kept while any tokenizer lives: from
  // `module_dir`, or when that is empty from the folder of the file holding this code) and the
  // tokenizer files in `dir`. Throws LoadError naming the module or the tokenizer file at
  // fault.
  static IsolatedT5Tokenizer load(const std::string& dir, const std::string& module_dir = "");

  // T5Tokenizer::encode(text, max_length): exactly max_length ids. Throws
  // std::invalid_argument with the tokenizer's message.
  std::vector<int32_t> encode(const std::string& text, size_t max_length) const;

 private:
  struct Module;
  // The loaded module, shared by every tokenizer alive.
  static std::shared_ptr<const Module> shared_module(const std::string& module_dir);
  IsolatedT5Tokenizer(std::shared_ptr<const Module> module,
                      std::shared_ptr<flx_t5_tokenizer> handle)
      : module_(std::move(module)), handle_(std::move(handle)) {}

  std::shared_ptr<const Module> module_;
  std::shared_ptr<flx_t5_tokenizer> handle_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_ISOLATED_T5_TOKENIZER_H_
