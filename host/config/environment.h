// The variables a configuration may refer to as ${NAME}: a snapshot of the process
// environment, optionally completed by a .env file, and the expansion of references.
#ifndef FLX_HOST_CONFIG_ENVIRONMENT_H_
#define FLX_HOST_CONFIG_ENVIRONMENT_H_

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "status.h"

namespace flx {

// An immutable-once-built set of NAME -> value pairs. Copyable; reading is thread-safe.
class Environment {
 public:
  Environment() = default;  // no variables

  // A snapshot of the process environment (environ) taken now; later setenv() calls are
  // not seen.
  static Environment FromProcess();
  // Exactly the given variables; for tests and embedders.
  static Environment FromMap(std::map<std::string, std::string> variables);

  // Adds the variables of a .env file that are not already present, so the real
  // environment always wins over the file. The format, one entry per line:
  //   KEY=VALUE            KEY is [A-Za-z_][A-Za-z0-9_]*; spaces around '=' are allowed
  //   export KEY=VALUE     the shell's `export ` prefix is accepted and ignored
  //   KEY='raw value'      single quotes: taken literally
  //   KEY="a\tb\n"         double quotes: \n \t \r \" \\ \$ are escapes
  //   KEY=value # note     unquoted: trimmed; a '#' after a space starts a comment
  //   # comment            blank lines and comment lines are skipped
  // Values are taken as written: ${...} inside a .env value is not expanded. When a key
  // appears twice in the file, the later line wins. A missing file is OK unless `required`
  // (then NOT_FOUND). Every malformed line is reported, one per line of the INVALID_ARGUMENT
  // message as "path:line: why"; on any error no variable is added.
  Status LoadDotEnv(const std::string& path, bool required);

  // The value of `name`, or nullopt when it is not set (a set but empty variable is "").
  std::optional<std::string> Get(const std::string& name) const;

 private:
  explicit Environment(std::map<std::string, std::string> variables)
      : variables_(std::move(variables)) {}

  std::map<std::string, std::string> variables_;
};

// Expands variable references in `text`:
//   ${NAME}           the value of NAME; an error naming NAME when it is not set
//   ${NAME:-default}  the value of NAME, or `default` when NAME is unset or empty (as in
//                     POSIX sh); `default` may itself contain references
//   $$                a literal '$'
// Any other '$' is kept as written. A malformed reference (unterminated "${", a bad
// name, an unsupported operator such as ${NAME:?x}) is an INVALID_ARGUMENT error that
// quotes it.
StatusOr<std::string> Interpolate(const std::string& text, const Environment& env);

}  // namespace flx

#endif  // FLX_HOST_CONFIG_ENVIRONMENT_H_
