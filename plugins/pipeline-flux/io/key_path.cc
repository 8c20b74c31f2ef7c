#include "io/key_path.h"

namespace flx::flux {

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    if (dot == std::string::npos) {
      parts.push_back(key.substr(start));
      return parts;
    }
    parts.push_back(key.substr(start, dot - start));
    start = dot + 1;
  }
}

std::string join_key(const std::vector<std::string>& parts, size_t first, size_t last) {
  std::string joined;
  for (size_t i = first; i < last && i < parts.size(); ++i) {
    if (i > first) joined += '.';
    joined += parts[i];
  }
  return joined;
}

std::optional<int> parse_block_index(const std::string& component) {
  if (component.empty() || component.size() > 9) return std::nullopt;
  if (component.size() > 1 && component[0] == '0') return std::nullopt;
  int value = 0;
  for (char c : component) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace flx::flux
