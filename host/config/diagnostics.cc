#include "config/diagnostics.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace flx {

std::string SourceLocation::ToString() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string Diagnostic::ToString() const {
  std::string out;
  std::string where = location.ToString();
  if (!where.empty()) out += where + ": ";
  out += severity == Severity::kError ? "error: " : "warning: ";
  if (!path.empty()) out += path + ": ";
  out += message;
  return out;
}

void Diagnostics::Error(SourceLocation location, std::string path, std::string message) {
  list_.push_back(Diagnostic{Diagnostic::Severity::kError, std::move(location), std::move(path),
                             std::move(message)});
  ++error_count_;
}

void Diagnostics::Warning(SourceLocation location, std::string path, std::string message) {
  list_.push_back(Diagnostic{Diagnostic::Severity::kWarning, std::move(location), std::move(path),
                             std::move(message)});
}

void Diagnostics::Append(const Diagnostics& other) {
  list_.insert(list_.end(), other.list_.begin(), other.list_.end());
  error_count_ += other.error_count_;
}

void Diagnostics::SortByLocation() {
  std::stable_sort(list_.begin(), list_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.location.file, a.location.line, a.location.column) <
           std::tie(b.location.file, b.location.line, b.location.column);
  });
}

std::string Diagnostics::ToString() const {
  std::string out;
  for (const Diagnostic& d : list_) {
    if (!out.empty()) out += '\n';
    out += d.ToString();
  }
  return out;
}

}  // namespace flx
