// Bearer-token checks shared by the API keys (/v1/ routes) and the admin keys (model
// management routes).
#ifndef FLX_HOST_HTTP_BEARER_AUTH_H_
#define FLX_HOST_HTTP_BEARER_AUTH_H_

#include <optional>
#include <string>
#include <vector>

namespace flx {

// The credentials of an "Authorization: Bearer <token>" header; the scheme is
// case-insensitive (RFC 9110 section 11.1) and may be followed by several spaces.
std::optional<std::string> BearerToken(const std::string& header);

// Whether `header` carries one of `keys`. Compared in constant time per key, so response
// timing does not leak how much of a key matched.
bool CarriesKey(const std::string& header, const std::vector<std::string>& keys);

}  // namespace flx

#endif  // FLX_HOST_HTTP_BEARER_AUTH_H_
