// The canonical names of the ABI's status codes ("RESOURCE_EXHAUSTED", ...), the spelling a
// recovery stage's `codes:` list uses.
#ifndef FLX_PLUGINS_RECOVERY_STATUS_CODE_NAMES_H_
#define FLX_PLUGINS_RECOVERY_STATUS_CODE_NAMES_H_

#include <flx/flx.h>

#include <optional>
#include <string>

namespace flx::recovery {

// The code called `name` (exact, upper case), or nullopt for unknown names and for "OK",
// which is not a failure.
std::optional<flx_code> ParseStatusCode(const std::string& name);

// The canonical name of `code`, or "UNKNOWN" for a value outside the set.
const char* StatusCodeName(flx_code code);

// Every name ParseStatusCode accepts, comma separated, for error messages.
std::string KnownStatusCodeNames();

}  // namespace flx::recovery

#endif  // FLX_PLUGINS_RECOVERY_STATUS_CODE_NAMES_H_
