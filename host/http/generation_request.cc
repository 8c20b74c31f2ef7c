#include "http/generation_request.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cmath>
#include <limits>

#include "http/integer_range_scan.h"
#include "http/lora_request.h"

namespace flx {
namespace {

using Poco::Dynamic::Var;

// Reads an optional field; null and absent are the same.
bool Present(const Poco::JSON::Object& obj, const char* key) {
  return obj.has(key) && !obj.get(key).isEmpty();
}

std::string TypeName(const Var& v) {
  if (v.isString()) return "a string";
  if (v.isBoolean()) return "a boolean";
  if (v.isNumeric()) return "a number";
  if (v.type() == typeid(Poco::JSON::Object::Ptr)) return "an object";
  if (v.type() == typeid(Poco::JSON::Array::Ptr)) return "an array";
  return "another type";
}

// An integer in [lo, hi], also accepting integral floats such as 4.0.
std::optional<ApiError> ReadInteger(const Poco::JSON::Object& obj, const char* key, int64_t lo,
                                    uint64_t hi, uint64_t* out) {
  Var v = obj.get(key);
  if (v.isBoolean() || !v.isNumeric()) {
    return BadRequest(std::string("'") + key + "' must be an integer, got " + TypeName(v), key,
                      "invalid_type");
  }
  if (v.isInteger()) {
    if (v.isSigned()) {
      int64_t x = v.convert<int64_t>();
      if (x < lo || (x >= 0 && uint64_t(x) > hi)) {
        return BadRequest(std::string("'") + key + "' must be between " + std::to_string(lo) +
                              " and " + std::to_string(hi) + ", got " + std::to_string(x),
                          key);
      }
      *out = uint64_t(x);
    } else {
      uint64_t x = v.convert<uint64_t>();
      if (x > hi || (lo > 0 && x < uint64_t(lo))) {
        return BadRequest(std::string("'") + key + "' must be between " + std::to_string(lo) +
                              " and " + std::to_string(hi) + ", got " + std::to_string(x),
                          key);
      }
      *out = x;
    }
    return std::nullopt;
  }
  double d = v.convert<double>();
  if (!std::isfinite(d) || std::floor(d) != d) {
    return BadRequest(
        std::string("'") + key + "' must be an integer, got " + v.convert<std::string>(), key,
        "invalid_type");
  }
  if (d < double(lo) || d > double(hi)) {
    return BadRequest(std::string("'") + key + "' must be between " + std::to_string(lo) + " and " +
                          std::to_string(hi) + ", got " + v.convert<std::string>(),
                      key);
  }
  *out = uint64_t(d);
  return std::nullopt;
}

std::optional<ApiError> ReadString(const Poco::JSON::Object& obj, const char* key,
                                   std::string* out) {
  Var v = obj.get(key);
  if (!v.isString()) {
    return BadRequest(std::string("'") + key + "' must be a string, got " + TypeName(v), key,
                      "invalid_type");
  }
  *out = v.convert<std::string>();
  return std::nullopt;
}

std::optional<ApiError> ReadBool(const Poco::JSON::Object& obj, const char* key, bool* out) {
  Var v = obj.get(key);
  if (!v.isBoolean()) {
    return BadRequest(std::string("'") + key + "' must be a boolean, got " + TypeName(v), key,
                      "invalid_type");
  }
  *out = v.convert<bool>();
  return std::nullopt;
}

// "WxH" with decimal digits only.
std::optional<std::pair<uint64_t, uint64_t>> ParseSize(const std::string& s) {
  size_t x = s.find('x');
  if (x == std::string::npos || x == 0 || x + 1 >= s.size() || x > 9 || s.size() - x - 1 > 9) {
    return std::nullopt;
  }
  uint64_t w = 0, h = 0;
  for (size_t i = 0; i < x; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    w = w * 10 + uint64_t(s[i] - '0');
  }
  for (size_t i = x + 1; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    h = h * 10 + uint64_t(s[i] - '0');
  }
  return std::make_pair(w, h);
}

}  // namespace

// The integer fields and their ranges, for literals the JSON parser would wrap.
static std::optional<ApiError> CheckIntegerLiterals(const std::string& body) {
  struct Field {
    const char* key;
    uint64_t hi;
  };
  static const Field kFields[] = {
      {"n", RequestLimits::kMaxImages},
      {"width", RequestLimits::kMaxSide},
      {"height", RequestLimits::kMaxSide},
      {"steps", RequestLimits::kMaxSteps},
      {"max_sequence_length", RequestLimits::kMaxSequenceLength},
      {"seed", std::numeric_limits<uint64_t>::max()},
  };
  for (const std::string& key : KeysWithOutOfRangeIntegers(body)) {
    for (const Field& f : kFields) {
      if (key != f.key) continue;
      const uint64_t lo = key == "seed" ? 0 : 1;
      return BadRequest("'" + key + "' must be between " + std::to_string(lo) + " and " +
                            std::to_string(f.hi) + ", got a number outside the 64-bit range",
                        key);
    }
  }
  return std::nullopt;
}

namespace {

// The body as a JSON object, or the 400 saying why it is not one.
std::variant<Poco::JSON::Object::Ptr, ApiError> ParseJsonObject(const std::string& body) {
  // Poco's parser answers a bare scalar such as `null` with "Attempt to set value on an empty
  // stack"; anything that does not open an object is refused here in plain words.
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && body[first] != '{' && body[first] != '[') {
    return BadRequest("the request body must be a JSON object", "", "invalid_json");
  }
  if (auto e = CheckIntegerLiterals(body)) return *e;
  try {
    Poco::JSON::Parser parser;
    Var parsed = parser.parse(body);
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) {
      return BadRequest("the request body must be a JSON object", "", "invalid_json");
    }
    return parsed.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    return BadRequest("the request body is not valid JSON: " + e.message(), "", "invalid_json");
  } catch (const std::exception& e) {
    return BadRequest(std::string("the request body is not valid JSON: ") + e.what(), "",
                      "invalid_json");
  }
}

// prompt (required, non-empty, bounded), prompt_2 and model.
std::optional<ApiError> ReadPrompts(const Poco::JSON::Object& obj, ImagesRequest* r) {
  if (!Present(obj, "prompt")) {
    return BadRequest("'prompt' is required", "prompt", "missing_required_parameter");
  }
  if (auto e = ReadString(obj, "prompt", &r->input.prompt)) return e;
  if (r->input.prompt.empty()) return BadRequest("'prompt' must not be empty", "prompt");
  if (r->input.prompt.size() > RequestLimits::kMaxPromptChars) {
    return BadRequest("'prompt' is " + std::to_string(r->input.prompt.size()) +
                          " bytes long; the limit is " +
                          std::to_string(RequestLimits::kMaxPromptChars),
                      "prompt", "string_above_max_length");
  }
  if (Present(obj, "prompt_2")) {
    std::string p2;
    if (auto e = ReadString(obj, "prompt_2", &p2)) return e;
    if (p2.size() > RequestLimits::kMaxPromptChars) {
      return BadRequest("'prompt_2' is too long", "prompt_2", "string_above_max_length");
    }
    r->input.prompt_2 = p2;
  }
  if (Present(obj, "model")) return ReadString(obj, "model", &r->model);
  return std::nullopt;
}

// size ("WxH" or "auto"), then width and height, which must agree with it.
std::optional<ApiError> ReadSize(const Poco::JSON::Object& obj, ImagesRequest* r) {
  if (Present(obj, "size")) {
    std::string size;
    if (auto e = ReadString(obj, "size", &size)) return e;
    if (size != "auto") {
      auto wh = ParseSize(size);
      if (!wh) {
        return BadRequest(
            "'size' must be \"WIDTHxHEIGHT\" (e.g. \"1024x1024\") or \"auto\", got \"" + size +
                "\"",
            "size");
      }
      if (wh->first == 0 || wh->second == 0 || wh->first > RequestLimits::kMaxSide ||
          wh->second > RequestLimits::kMaxSide) {
        return BadRequest("'size' " + size + " is out of range: width and height must be 1.." +
                              std::to_string(RequestLimits::kMaxSide),
                          "size");
      }
      r->input.width = uint32_t(wh->first);
      r->input.height = uint32_t(wh->second);
    }
  }
  uint64_t v = 0;
  for (const char* key : {"width", "height"}) {
    if (!Present(obj, key)) continue;
    if (auto e = ReadInteger(obj, key, 1, RequestLimits::kMaxSide, &v)) return e;
    uint32_t& dst = key[0] == 'w' ? r->input.width : r->input.height;
    if (dst != 0 && dst != v) {
      return BadRequest(std::string("'") + key + "' (" + std::to_string(v) + ") contradicts 'size'",
                        key);
    }
    dst = uint32_t(v);
  }
  return std::nullopt;
}

std::optional<ApiError> ReadImageCount(const Poco::JSON::Object& obj, ImagesRequest* r) {
  if (!Present(obj, "n")) return std::nullopt;
  uint64_t v = 0;
  if (auto e = ReadInteger(obj, "n", 1, RequestLimits::kMaxImages, &v)) return e;
  r->input.n = uint32_t(v);
  return std::nullopt;
}

// steps, max_sequence_length, seed and guidance_scale, each inside its range.
std::optional<ApiError> ReadSampling(const Poco::JSON::Object& obj, ImagesRequest* r) {
  uint64_t v = 0;
  if (Present(obj, "steps")) {
    if (auto e = ReadInteger(obj, "steps", 1, RequestLimits::kMaxSteps, &v)) return e;
    r->input.steps = uint32_t(v);
  }
  if (Present(obj, "max_sequence_length")) {
    if (auto e =
            ReadInteger(obj, "max_sequence_length", 1, RequestLimits::kMaxSequenceLength, &v)) {
      return e;
    }
    r->input.max_sequence_length = uint32_t(v);
  }
  if (Present(obj, "strength")) {
    Var given = obj.get("strength");
    const double strength =
        given.isBoolean() || !given.isNumeric() ? std::nan("") : given.convert<double>();
    if (!(strength > 0) || strength > 1) {
      return BadRequest("'strength' must be a number in (0, 1]", "strength");
    }
    r->strength = strength;
  }
  if (Present(obj, "seed")) {
    if (auto e = ReadInteger(obj, "seed", 0, std::numeric_limits<uint64_t>::max(), &v)) return e;
    r->input.seed = v;
    r->seed_given = true;
  }
  if (!Present(obj, "guidance_scale")) return std::nullopt;
  Var g = obj.get("guidance_scale");
  if (g.isBoolean() || !g.isNumeric()) {
    return BadRequest("'guidance_scale' must be a number, got " + TypeName(g), "guidance_scale",
                      "invalid_type");
  }
  double d = g.convert<double>();
  if (!std::isfinite(d) || d < 0 || d > RequestLimits::kMaxGuidance) {
    return BadRequest("'guidance_scale' must be between 0 and 100", "guidance_scale");
  }
  r->input.guidance = float(d);
  return std::nullopt;
}

// response_format, output_format, output_compression and user.
std::optional<ApiError> ReadOutput(const Poco::JSON::Object& obj, ImagesRequest* r) {
  if (Present(obj, "response_format")) {
    if (auto e = ReadString(obj, "response_format", &r->response_format)) return e;
    if (r->response_format != "b64_json" && r->response_format != "url") {
      return BadRequest(
          "'response_format' must be \"b64_json\" or \"url\", got \"" + r->response_format + "\"",
          "response_format");
    }
  }
  if (Present(obj, "output_format")) {
    std::string f;
    if (auto e = ReadString(obj, "output_format", &f)) return e;
    auto format = ParseImageFormat(f);
    if (!format.ok()) return BadRequest(format.status().message(), "output_format");
    r->output_format = *format;
  }
  if (Present(obj, "output_compression")) {
    uint64_t v = 0;
    if (auto e = ReadInteger(obj, "output_compression", 0, 100, &v)) return e;
    r->output_quality = int(v);
  }
  if (Present(obj, "user")) return ReadString(obj, "user", &r->user);
  return std::nullopt;
}

std::optional<ApiError> ReadAdapters(const Poco::JSON::Object& obj, ImagesRequest* r) {
  return ReadLoras(obj, &r->input.loras);
}

// background (a job instead of an answer), timeout_s, stream and partial_images.
std::optional<ApiError> ReadDelivery(const Poco::JSON::Object& obj, ImagesRequest* r) {
  if (Present(obj, "background")) {
    if (auto e = ReadBool(obj, "background", &r->background)) return e;
  }
  if (Present(obj, "timeout_s")) {
    Var t = obj.get("timeout_s");
    if (t.isBoolean() || !t.isNumeric()) {
      return BadRequest("'timeout_s' must be a number, got " + TypeName(t), "timeout_s",
                        "invalid_type");
    }
    const double seconds = t.convert<double>();
    if (!std::isfinite(seconds) || seconds <= 0 || seconds > RequestLimits::kMaxTimeoutS) {
      return BadRequest("'timeout_s' must be above 0 and at most 86400", "timeout_s");
    }
    r->timeout_s = seconds;
  }
  if (Present(obj, "stream")) {
    if (auto e = ReadBool(obj, "stream", &r->stream)) return e;
  }
  if (Present(obj, "partial_images")) {
    uint64_t v = 0;
    if (auto e = ReadInteger(obj, "partial_images", 0, RequestLimits::kMaxPartialImages, &v)) {
      return e;
    }
    r->partial_images = uint32_t(v);
  }
  return std::nullopt;
}

}  // namespace

std::variant<ImagesRequest, ApiError> ParseImagesRequest(const std::string& body) {
  auto parsed = ParseJsonObject(body);
  if (auto* error = std::get_if<ApiError>(&parsed)) return *error;
  const Poco::JSON::Object& obj = *std::get<Poco::JSON::Object::Ptr>(parsed);
  ImagesRequest r;
  // Fields are checked in this order, so the first problem reported is stable.
  for (auto read :
       {ReadPrompts, ReadImageCount, ReadSize, ReadSampling, ReadAdapters, ReadOutput,
        ReadDelivery}) {
    if (auto e = read(obj, &r)) return *e;
  }
  return r;
}

}  // namespace flx
