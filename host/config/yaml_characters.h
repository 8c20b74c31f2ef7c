// The character check that runs before yaml-cpp sees a configuration file. YAML 1.2 allows
// only printable Unicode in a stream (TAB, LF, CR, U+0020-U+007E, U+0085, U+00A0-U+D7FF,
// U+E000-U+FFFD, U+10000-U+10FFFF) and we read UTF-8 only; yaml-cpp 0.7 does not enforce
// this, and some inputs with control characters make its LoadAll() loop, eating memory
// (found by fuzz/graph_config_fuzzer.cc). Such files are refused with the first offending
// character's line and column instead.
#ifndef FLX_HOST_CONFIG_YAML_CHARACTERS_H_
#define FLX_HOST_CONFIG_YAML_CHARACTERS_H_

#include <optional>
#include <string>

#include "config/diagnostics.h"

namespace flx {

struct CharacterProblem {
  int line = 0;    // 1-based
  int column = 0;  // 1-based, in characters (code points)
  std::string message;
};

// The first character of `text` that is not valid UTF-8 or not YAML-printable, or nullopt.
std::optional<CharacterProblem> FindNonPrintableCharacter(const std::string& text);

}  // namespace flx

#endif  // FLX_HOST_CONFIG_YAML_CHARACTERS_H_
