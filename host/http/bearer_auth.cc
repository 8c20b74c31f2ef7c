#include "http/bearer_auth.h"

#include <Poco/String.h>

namespace flx {

std::optional<std::string> BearerToken(const std::string& header) {
  constexpr size_t kScheme = 6;  // "Bearer"
  if (header.size() <= kScheme + 1 || Poco::icompare(header.substr(0, kScheme), "bearer") != 0 ||
      header[kScheme] != ' ') {
    return std::nullopt;
  }
  const size_t token = header.find_first_not_of(' ', kScheme);
  if (token == std::string::npos) return std::nullopt;
  return header.substr(token);
}

bool CarriesKey(const std::string& header, const std::vector<std::string>& keys) {
  const std::optional<std::string> token = BearerToken(header);
  if (!token) return false;
  bool ok = false;
  for (const std::string& key : keys) {
    unsigned char diff = token->size() == key.size() ? 0 : 1;
    for (size_t i = 0; i < key.size(); ++i) {
      diff |= static_cast<unsigned char>(key[i] ^ (i < token->size() ? (*token)[i] : 0));
    }
    ok |= diff == 0;
  }
  return ok;
}

}  // namespace flx
