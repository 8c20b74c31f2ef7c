// file_mapping.h — a whole file mapped read-only, shared by the weight file readers
// (safetensors, GGUF) so that tensor views can point into it without copying.
#ifndef FLX_FLUX_IO_FILE_MAPPING_H_
#define FLX_FLUX_IO_FILE_MAPPING_H_

#include <cstddef>
#include <memory>
#include <string>

namespace flx::flux {

// Owns one read-only mapping; unmapped when the last owner goes.
class FileMapping {
 public:
  FileMapping(const void* address, size_t length) : address_(address), length_(length) {}
  ~FileMapping();
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;

  const unsigned char* bytes() const { return static_cast<const unsigned char*>(address_); }
  size_t length() const { return length_; }

  // Drops the mapping's pages from this process's resident memory (madvise MADV_DONTNEED):
  // the next read faults them back from the page cache or the file. Safe at any time because
  // the mapping is read-only, so no page holds data the file does not. Returns the bytes
  // given back (the mapping's length; 0 for an empty one or when madvise fails).
  size_t release_pages() const;

 private:
  const void* address_;
  size_t length_;
};

// Maps `path` read-only (an empty file gives an empty mapping). Throws LoadError naming the
// file when it cannot be opened, is not a regular file, or cannot be mapped.
std::shared_ptr<const FileMapping> map_file(const std::string& path);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_FILE_MAPPING_H_
