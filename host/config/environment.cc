#include "config/environment.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

extern char** environ;

namespace flx {
namespace {

bool IsNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }
bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && IsBlank(s[b])) ++b;
  while (e > b && IsBlank(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// What follows a closing quote may only be blanks and an optional comment.
bool OnlyCommentFollows(const std::string& rest) {
  std::string t = Trim(rest);
  return t.empty() || t[0] == '#';
}

// Parses the value part of one line (after '='). Returns false with `why` on bad syntax.
bool ParseValue(const std::string& raw, std::string* value, std::string* why) {
  std::string text = Trim(raw);
  if (text.empty()) {
    value->clear();
    return true;
  }
  if (text[0] == '\'') {
    size_t close = text.find('\'', 1);
    if (close == std::string::npos) {
      *why = "unterminated single-quoted value";
      return false;
    }
    if (!OnlyCommentFollows(text.substr(close + 1))) {
      *why = "unexpected text after the closing quote";
      return false;
    }
    *value = text.substr(1, close - 1);
    return true;
  }
  if (text[0] == '"') {
    std::string out;
    for (size_t i = 1; i < text.size(); ++i) {
      char c = text[i];
      if (c == '"') {
        if (!OnlyCommentFollows(text.substr(i + 1))) {
          *why = "unexpected text after the closing quote";
          return false;
        }
        *value = std::move(out);
        return true;
      }
      if (c == '\\' && i + 1 < text.size()) {
        char e = text[++i];
        switch (e) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case 'r':
            out += '\r';
            break;
          case '"':
          case '\\':
          case '$':
            out += e;
            break;
          default:
            *why = std::string("unknown escape '\\") + e + "' in double-quoted value";
            return false;
        }
        continue;
      }
      out += c;
    }
    *why = "unterminated double-quoted value";
    return false;
  }
  // Unquoted: a '#' preceded by a blank starts a comment ("a#b" keeps its '#').
  size_t end = text.size();
  for (size_t i = 1; i < text.size(); ++i) {
    if (text[i] == '#' && IsBlank(text[i - 1])) {
      end = i;
      break;
    }
  }
  *value = Trim(text.substr(0, end));
  return true;
}

// Parses one non-blank, non-comment line into key and value.
bool ParseLine(std::string line, std::string* key, std::string* value, std::string* why) {
  if (line.compare(0, 7, "export ") == 0) line = Trim(line.substr(7));
  size_t eq = line.find('=');
  if (eq == std::string::npos) {
    *why = "expected KEY=VALUE, got '" + line + "'";
    return false;
  }
  *key = Trim(line.substr(0, eq));
  bool valid = !key->empty() && IsNameStart((*key)[0]);
  for (char c : *key) valid = valid && IsNameChar(c);
  if (!valid) {
    *why = "invalid variable name '" + *key + "' (expected [A-Za-z_][A-Za-z0-9_]*)";
    return false;
  }
  return ParseValue(line.substr(eq + 1), value, why);
}

}  // namespace

Environment Environment::FromProcess() {
  std::map<std::string, std::string> vars;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const char* eq = std::strchr(*entry, '=');
    if (eq == nullptr) continue;
    vars.emplace(std::string(*entry, static_cast<size_t>(eq - *entry)), std::string(eq + 1));
  }
  return Environment(std::move(vars));
}

Environment Environment::FromMap(std::map<std::string, std::string> variables) {
  return Environment(std::move(variables));
}

Status Environment::LoadDotEnv(const std::string& path, bool required) {
  std::error_code ec;
  const bool is_directory = std::filesystem::is_directory(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (!in || is_directory) {
    int err = is_directory ? EISDIR : errno;
    if (err == ENOENT && !required) return Status::Ok();
    std::string reason = err != 0 ? std::strerror(err) : "cannot open";
    if (err == ENOENT) return NotFound(path + ": cannot open .env file: " + reason);
    return InvalidArgument(path + ": cannot open .env file: " + reason);
  }
  std::map<std::string, std::string> parsed;
  std::vector<std::string> problems;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (number == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string trimmed = Trim(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    std::string key, value, why;
    if (!ParseLine(trimmed, &key, &value, &why)) {
      problems.push_back(path + ":" + std::to_string(number) + ": " + why);
      continue;
    }
    parsed[key] = std::move(value);
  }
  if (!problems.empty()) {
    std::string message;
    for (const std::string& p : problems) message += (message.empty() ? "" : "\n") + p;
    return InvalidArgument(std::move(message));
  }
  for (auto& [key, value] : parsed) variables_.emplace(key, std::move(value));
  return Status::Ok();
}

std::optional<std::string> Environment::Get(const std::string& name) const {
  auto it = variables_.find(name);
  if (it == variables_.end()) return std::nullopt;
  return it->second;
}

}  // namespace flx
