// A small streaming JSON writer. Responses carry megabytes of base64 that need no escaping;
// writing them straight into one string keeps per-request overhead to one copy.
#ifndef FLX_HOST_HTTP_JSON_WRITER_H_
#define FLX_HOST_HTTP_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flx {

class JsonWriter {
 public:
  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  // The next value belongs to `key` (inside an object).
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& UInt(uint64_t value);
  // Non-finite numbers are written as null (JSON has no NaN).
  JsonWriter& Number(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // `text` as a JSON number when it is one by JSON's grammar ("4", "-0.5", "1e-3"), as a
  // boolean when it is "true" or "false", else as a string: for plugin values that cross the
  // ABI as text but mean numbers.
  JsonWriter& Scalar(std::string_view text);
  // A value that is already valid JSON text.
  JsonWriter& Raw(std::string_view json);
  // Reserves room for `n` more bytes (e.g. before a big base64 string).
  void Reserve(size_t n) { out_.reserve(out_.size() + n); }

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

  static void AppendEscaped(std::string& out, std::string_view s);

 private:
  JsonWriter& Open(char c);
  JsonWriter& Close(char c);
  void BeforeValue();
  std::string out_;
  std::vector<bool> has_items_;
  bool after_key_ = false;
};

// Whether `text` is a number by JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view text);

// Standard base64 (RFC 4648) without line breaks.
std::string Base64Encode(std::string_view bytes);

}  // namespace flx

#endif  // FLX_HOST_HTTP_JSON_WRITER_H_
