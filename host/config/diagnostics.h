// Diagnostics: the errors and warnings found while reading a configuration, each with the
// place in the file it is about, so a user fixes every problem in one pass.
#ifndef FLX_HOST_CONFIG_DIAGNOSTICS_H_
#define FLX_HOST_CONFIG_DIAGNOSTICS_H_

#include <string>
#include <vector>

namespace flx {

// A place in a configuration file. Lines and columns are 1-based; line 0 means the position
// is unknown (the file as a whole), and `file` may then be empty too.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;

  // "file:line:col", "file" when the line is unknown, "" when nothing is known.
  std::string ToString() const;
  bool operator==(const SourceLocation& other) const {
    return file == other.file && line == other.line && column == other.column;
  }
};

struct Diagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  SourceLocation location;
  std::string path;  // where in the document, e.g. "stages[2].config.max_queue"; may be ""
  std::string message;

  // "configs/x.yaml:12:5: error: stages[2].config.max_queue: expected an integer, got 'abc'".
  // The location and path parts are left out when empty.
  std::string ToString() const;
};

// An ordered list of diagnostics. Not thread-safe: one reader of a file fills one list.
class Diagnostics {
 public:
  void Error(SourceLocation location, std::string path, std::string message);
  void Warning(SourceLocation location, std::string path, std::string message);
  // Appends every diagnostic of `other`, keeping its order.
  void Append(const Diagnostics& other);
  // Orders the list by file, line and column, keeping the order of equal positions, so a
  // reader sees problems in file order whatever order the checks ran in.
  void SortByLocation();

  bool has_errors() const { return error_count_ > 0; }
  int error_count() const { return error_count_; }
  int warning_count() const { return static_cast<int>(list_.size()) - error_count_; }
  bool empty() const { return list_.empty(); }
  const std::vector<Diagnostic>& list() const { return list_; }
  // One diagnostic per line, in list order, without a trailing newline.
  std::string ToString() const;

 private:
  std::vector<Diagnostic> list_;
  int error_count_ = 0;
};

}  // namespace flx

#endif  // FLX_HOST_CONFIG_DIAGNOSTICS_H_
