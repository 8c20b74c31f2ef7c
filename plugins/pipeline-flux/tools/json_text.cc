#include "json_text.h"

#include <charconv>
#include <cstdio>
#include <stdexcept>

namespace flx::flux::demo {

std::string json_quote(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

JsonObject& JsonObject::add_text(const std::string& key, std::string text) {
  entries_.push_back({key, std::move(text), nullptr});
  return *this;
}

JsonObject& JsonObject::add(const std::string& key, const std::string& value) {
  return add_text(key, json_quote(value));
}

JsonObject& JsonObject::add(const std::string& key, const char* value) {
  return add_text(key, json_quote(value));
}

JsonObject& JsonObject::add(const std::string& key, int64_t value) {
  return add_text(key, std::to_string(value));
}

JsonObject& JsonObject::add(const std::string& key, double value) {
  char text[32];
  const std::to_chars_result result = std::to_chars(text, text + sizeof(text), value);
  if (result.ec != std::errc()) throw std::runtime_error("cannot format " + key);
  std::string formatted(text, result.ptr);
  // Keep a float a float in Python's eyes (json.load gives 1 -> int, 1.0 -> float).
  if (formatted.find_first_of(".e") == std::string::npos) formatted += ".0";
  return add_text(key, formatted);
}

JsonObject& JsonObject::add(const std::string& key, bool value) {
  return add_text(key, value ? "true" : "false");
}

JsonObject& JsonObject::add(const std::string& key, const std::vector<int64_t>& values) {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i) text += (i ? ", " : "") + std::to_string(values[i]);
  return add_text(key, text + "]");
}

JsonObject& JsonObject::add(const std::string& key, const std::vector<std::string>& values) {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i) text += (i ? ", " : "") + json_quote(values[i]);
  return add_text(key, text + "]");
}

JsonObject& JsonObject::add(const std::string& key, const JsonObject& value) {
  entries_.push_back({key, "", std::make_shared<JsonObject>(value)});
  return *this;
}

JsonObject& JsonObject::add_null(const std::string& key) { return add_text(key, "null"); }

std::string JsonObject::str(int depth) const {
  if (entries_.empty()) return depth == 0 ? "{}\n" : "{}";
  const std::string indent(2 * (depth + 1), ' ');
  std::string out = "{";
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry& entry = entries_[i];
    out += (i ? ",\n" : "\n") + indent + json_quote(entry.key) + ": ";
    out += entry.object ? entry.object->str(depth + 1) : entry.text;
  }
  out += "\n" + std::string(2 * depth, ' ') + "}";
  if (depth == 0) out += "\n";
  return out;
}

}  // namespace flx::flux::demo
