// files.h — the few file-system questions the loaders ask, with errors that name the path.
#ifndef FLX_FLUX_IO_FILES_H_
#define FLX_FLUX_IO_FILES_H_

#include <string>

namespace flx::flux {

// Whether `path` exists and is a regular file (symbolic links followed, as in the Hugging Face
// cache, whose snapshot files link to blobs).
bool is_regular_file(const std::string& path);
// Whether `path` exists and is a directory (symbolic links followed).
bool is_directory(const std::string& path);
// The whole content of `path`; throws LoadError "<path>: cannot open" when unreadable.
std::string read_text_file(const std::string& path);
// `path` without its last component ("a/b/c.safetensors" -> "a/b", "c" -> ".").
std::string parent_directory(const std::string& path);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_FILES_H_
