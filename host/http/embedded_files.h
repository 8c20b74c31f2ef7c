// The web playground's static files, compiled into the binary (cmake/EmbedFiles.cmake turns
// host/web/playground/* into embedded_files.cc at build time).
#ifndef FLX_HOST_HTTP_EMBEDDED_FILES_H_
#define FLX_HOST_HTTP_EMBEDDED_FILES_H_

#include <map>
#include <string>
#include <string_view>

namespace flx {

// URL path ("/playground/index.html") -> the file's bytes.
const std::map<std::string, std::string_view>& EmbeddedFiles();

// The Content-Type of an embedded file by its extension (html, js, css; else octet-stream).
const char* EmbeddedFileType(const std::string& path);

}  // namespace flx

#endif  // FLX_HOST_HTTP_EMBEDDED_FILES_H_
