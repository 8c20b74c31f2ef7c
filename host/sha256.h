// SHA-256 as lowercase hex, for fingerprints (Idempotency-Key bodies, uploaded images) and
// ids derived from keys.
#ifndef FLX_HOST_SHA256_H_
#define FLX_HOST_SHA256_H_

#include <string>

namespace flx {

std::string Sha256Hex(const std::string& bytes);

}  // namespace flx

#endif  // FLX_HOST_SHA256_H_
