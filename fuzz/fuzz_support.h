// Helpers shared by the fuzz targets: finding their data files and failing loudly.
#ifndef FLX_FUZZ_FUZZ_SUPPORT_H_
#define FLX_FUZZ_FUZZ_SUPPORT_H_

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>

namespace flx::fuzz {

// A property the target checks failed: print it and abort, which libFuzzer records as a crash
// with the input that caused it.
[[noreturn]] inline void Violation(const std::string& what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what.c_str());
  std::abort();
}

inline void Check(bool holds, const std::string& what) {
  if (!holds) Violation(what);
}

// The tokenizer folder a tokenizer target loads: $<env_var>, else
// $FLX_GOLDEN_DIR/tiny-flux/<subdir>, else the configured golden folder. Exits with a message
// naming all three when none exists (the real FLUX.1 tokenizers live in ../shared/golden).
inline std::string TokenizerDir(const char* env_var, const char* subdir) {
  std::string candidates[3];
  if (const char* dir = std::getenv(env_var)) candidates[0] = dir;
  if (const char* golden = std::getenv("FLX_GOLDEN_DIR")) {
    candidates[1] = std::string(golden) + "/tiny-flux/" + subdir;
  }
  candidates[2] = std::string(FLX_GOLDEN_DIR_DEFAULT) + "/tiny-flux/" + subdir;
  for (const std::string& dir : candidates) {
    struct stat info;
    if (!dir.empty() && stat(dir.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) return dir;
  }
  std::fprintf(stderr,
               "no tokenizer folder: set %s, or FLX_GOLDEN_DIR (tried %s/tiny-flux/%s)\n",
               env_var, FLX_GOLDEN_DIR_DEFAULT, subdir);
  std::exit(2);
}

}  // namespace flx::fuzz

#endif  // FLX_FUZZ_FUZZ_SUPPORT_H_
