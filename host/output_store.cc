#include "output_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace flx {
namespace {

Status MakeDirs(const std::string& dir) {
  std::string partial;
  for (size_t i = 0; i <= dir.size(); ++i) {
    if (i == dir.size() || dir[i] == '/') {
      if (!partial.empty() && ::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
        return FailedPrecondition("cannot create output directory '" + partial +
                                  "': " + std::strerror(errno));
      }
    }
    if (i < dir.size()) partial.push_back(dir[i]);
  }
  return Status::Ok();
}

}  // namespace

bool OutputStore::IsSafeName(const std::string& name) {
  if (name.empty() || name.size() > 200 || name[0] == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status OutputStore::Init() const {
  FLX_RETURN_IF_ERROR(MakeDirs(dir_));
  if (::access(dir_.c_str(), W_OK) != 0) {
    return FailedPrecondition("output directory '" + dir_ + "' is not writable: " +
                              std::strerror(errno));
  }
  return Status::Ok();
}

Status OutputStore::Save(const std::string& name, const std::string& bytes) const {
  if (!IsSafeName(name)) return InvalidArgument("unsafe output file name '" + name + "'");
  std::string path = dir_ + "/" + name;
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return Internal("cannot write '" + tmp + "': " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Internal("cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno));
  }
  return Status::Ok();
}

StatusOr<std::string> OutputStore::Resolve(const std::string& name) const {
  if (!IsSafeName(name) || (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0)) {
    return NotFound("no such image '" + name + "'");
  }
  std::string path = dir_ + "/" + name;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return NotFound("no such image '" + name + "'");
  }
  return path;
}

}  // namespace flx
