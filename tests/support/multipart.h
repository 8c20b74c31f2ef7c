// multipart.h — builds multipart/form-data bodies as the OpenAI SDKs send them (text fields and
// file parts), for tests of POST /v1/images/edits. Header-only.
#ifndef FLX_TESTS_SUPPORT_MULTIPART_H_
#define FLX_TESTS_SUPPORT_MULTIPART_H_

#include <string>
#include <utility>
#include <vector>

namespace flx::test {

class MultipartBody {
 public:
  MultipartBody& Field(const std::string& name, const std::string& value) {
    body_ += "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + name +
             "\"\r\n\r\n" + value + "\r\n";
    return *this;
  }
  MultipartBody& File(const std::string& name, const std::string& filename,
                      const std::string& content_type, const std::string& bytes) {
    body_ += "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + name +
             "\"; filename=\"" + filename + "\"\r\nContent-Type: " + content_type + "\r\n\r\n" +
             bytes + "\r\n";
    return *this;
  }
  std::string Body() const { return body_ + "--" + kBoundary + "--\r\n"; }
  std::string ContentType() const { return "multipart/form-data; boundary=" + kBoundary; }

 private:
  const std::string kBoundary = "----fluxserve-test-boundary-7d1f";
  std::string body_;
};

}  // namespace flx::test

#endif  // FLX_TESTS_SUPPORT_MULTIPART_H_
