// json_text.h — the small JSON writer make-demo-model uses for its config and tokenizer
// files: keys stay in the order they were added (like the files diffusers and transformers
// save) and numbers print in their shortest exact form (0.3611, 1e-05).
#ifndef FLX_FLUX_TOOLS_JSON_TEXT_H_
#define FLX_FLUX_TOOLS_JSON_TEXT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace flx::flux::demo {

// `text` (UTF-8) as a JSON string literal, quotes included: ", \ and control characters are
// escaped, everything else is copied.
std::string json_quote(const std::string& text);

// An ordered JSON object. Values are kept as JSON text, objects as objects (for indentation).
class JsonObject {
 public:
  JsonObject& add(const std::string& key, const std::string& value);
  JsonObject& add(const std::string& key, const char* value);
  JsonObject& add(const std::string& key, int64_t value);
  JsonObject& add(const std::string& key, int value) { return add(key, int64_t{value}); }
  JsonObject& add(const std::string& key, double value);
  JsonObject& add(const std::string& key, bool value);
  JsonObject& add(const std::string& key, const std::vector<int64_t>& values);
  JsonObject& add(const std::string& key, const std::vector<std::string>& values);
  JsonObject& add(const std::string& key, const JsonObject& value);
  JsonObject& add_null(const std::string& key);

  // The object with two-space indentation and a final newline when `depth` is 0.
  std::string str(int depth = 0) const;

 private:
  struct Entry {
    std::string key;
    std::string text;                    // the value, unless `object` is set
    std::shared_ptr<JsonObject> object;  // a nested object
  };
  JsonObject& add_text(const std::string& key, std::string text);
  std::vector<Entry> entries_;
};

}  // namespace flx::flux::demo

#endif  // FLX_FLUX_TOOLS_JSON_TEXT_H_
