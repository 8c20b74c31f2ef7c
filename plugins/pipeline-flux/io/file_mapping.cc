#include "io/file_mapping.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/tensor.h"

namespace flx::flux {

FileMapping::~FileMapping() {
  if (length_ > 0) munmap(const_cast<void*>(address_), length_);
}

size_t FileMapping::release_pages() const {
  if (length_ == 0) return 0;
  return madvise(const_cast<void*>(address_), length_, MADV_DONTNEED) == 0 ? length_ : 0;
}

std::shared_ptr<const FileMapping> map_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw LoadError(path + ": cannot open: " + std::strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0) {
    int error = errno;
    ::close(fd);
    throw LoadError(path + ": cannot stat: " + std::strerror(error));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    throw LoadError(path + ": not a regular file");
  }
  size_t length = static_cast<size_t>(info.st_size);
  if (length == 0) {
    ::close(fd);
    return std::make_shared<const FileMapping>(nullptr, 0);
  }
  void* address = mmap(nullptr, length, PROT_READ, MAP_PRIVATE, fd, 0);
  int error = errno;
  ::close(fd);
  if (address == MAP_FAILED) throw LoadError(path + ": cannot mmap: " + std::strerror(error));
  return std::make_shared<const FileMapping>(address, length);
}

}  // namespace flx::flux
