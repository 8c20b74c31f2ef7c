#include "http/lora_request.h"

#include <Poco/JSON/Array.h>
#include <flx/vocabulary.h>

#include <cmath>
#include <set>
#include <string>

namespace flx {
namespace {

using Poco::Dynamic::Var;

// A name is a file name without its extension: no path separators, no leading dot, no
// control characters.
std::optional<std::string> NameProblem(const std::string& name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > LoraLimits::kMaxNameChars) {
    return "is longer than " + std::to_string(LoraLimits::kMaxNameChars) + " characters";
  }
  if (name.front() == '.') return "must not start with '.'";
  for (unsigned char c : name) {
    if (c == '/' || c == '\\') return "must not contain '/' or '\\' (it names a file in lora_dir)";
    if (c < 0x20 || c == 0x7f) return "must not contain control characters";
  }
  return std::nullopt;
}

std::optional<ApiError> ReadEntry(const Var& entry, size_t index, LoraChoice* choice) {
  const std::string at = "lora[" + std::to_string(index) + "]";
  if (entry.type() != typeid(Poco::JSON::Object::Ptr)) {
    return BadRequest("'" + at + "' must be an object {\"name\": ..., \"scale\": ...}", at,
                      "invalid_type");
  }
  const auto& object = *entry.extract<Poco::JSON::Object::Ptr>();
  const Var name = object.get("name");
  if (!name.isString()) {
    return BadRequest("'" + at + ".name' must be a string", at + ".name", "invalid_type");
  }
  choice->name = name.extract<std::string>();
  if (auto problem = NameProblem(choice->name)) {
    return BadRequest("'" + at + ".name' " + *problem, at + ".name");
  }
  if (!object.has("scale") || object.get("scale").isEmpty()) return std::nullopt;
  const Var scale = object.get("scale");
  const double value = scale.isBoolean() || !scale.isNumeric() ? NAN : scale.convert<double>();
  if (!std::isfinite(value) || std::fabs(value) > LoraLimits::kMaxAbsScale) {
    return BadRequest("'" + at + ".scale' must be a number between -100 and 100", at + ".scale");
  }
  choice->scale = static_cast<float>(value);
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> ReadLoras(const Poco::JSON::Object& obj,
                                  std::optional<std::vector<LoraChoice>>* out) {
  if (!obj.has(FLX_PARAM_LORA) || obj.get(FLX_PARAM_LORA).isEmpty()) return std::nullopt;
  const Var given = obj.get(FLX_PARAM_LORA);
  if (given.type() != typeid(Poco::JSON::Array::Ptr)) {
    return BadRequest("'lora' must be an array of {\"name\": ..., \"scale\": ...}", FLX_PARAM_LORA,
                      "invalid_type");
  }
  const auto& array = *given.extract<Poco::JSON::Array::Ptr>();
  if (array.size() > LoraLimits::kMaxAdapters) {
    return BadRequest("'lora' names " + std::to_string(array.size()) + " adapters; at most " +
                          std::to_string(LoraLimits::kMaxAdapters) + " per request",
                      FLX_PARAM_LORA);
  }
  std::vector<LoraChoice> loras(array.size());
  std::set<std::string> seen;
  for (size_t i = 0; i < array.size(); ++i) {
    if (auto e = ReadEntry(array.get(static_cast<unsigned>(i)), i, &loras[i])) return e;
    if (!seen.insert(loras[i].name).second) {
      return BadRequest("'lora' names '" + loras[i].name + "' twice", FLX_PARAM_LORA);
    }
  }
  *out = std::move(loras);
  return std::nullopt;
}

}  // namespace flx
