// json_config.h — typed, error-reporting access to one component's config.json (the
// diffusers and transformers configs every network reads its sizes from).
#ifndef FLX_FLUX_MODEL_JSON_CONFIG_H_
#define FLX_FLUX_MODEL_JSON_CONFIG_H_

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <string>
#include <vector>

namespace flx::flux {

// A parsed JSON object plus the path it came from. Every accessor that fails throws
// LoadError "<path>: key \"<key>\" ...", saying whether the key is missing or has the wrong
// type, so a broken config is diagnosed without a debugger.
class JsonConfig {
 public:
  // Reads and parses `path`; throws LoadError naming the file when it cannot be read, is not
  // JSON, or is not a JSON object.
  static JsonConfig load(const std::string& path);
  // Parses `text` as if it had been read from `path` (tests, embedded defaults).
  static JsonConfig parse(const std::string& text, const std::string& path);

  const std::string& path() const { return path_; }
  // True when `key` is present and not null.
  bool has(const std::string& key) const;

  // Required values: the key must be present, non-null and of the right type. Integers
  // accept JSON numbers with an integral value; doubles accept any number.
  int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  std::vector<int64_t> get_int_list(const std::string& key) const;
  std::vector<std::string> get_string_list(const std::string& key) const;

  // Optional values: `fallback` when the key is absent or null; a present value of the
  // wrong type still throws.
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;

 private:
  JsonConfig(Poco::JSON::Object::Ptr object, std::string path);
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;

  Poco::JSON::Object::Ptr object_;
  std::string path_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_JSON_CONFIG_H_
