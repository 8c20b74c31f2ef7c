// Fuzzes the YAML graph loader (parse, ${VAR} expansion, schema checks): any text either gives
// a config or INVALID_ARGUMENT with at least one error diagnostic; nothing crashes or hangs.
#include <cstdint>
#include <string>

#include "config/diagnostics.h"
#include "config/environment.h"
#include "config/graph_config.h"
#include "fuzz_support.h"

using flx::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const flx::Environment env = flx::Environment::FromMap(
      {{"FLUX_MODEL_DIR", "/models/flux"}, {"PORT", "8080"}, {"EMPTY", ""}});
  std::string yaml(reinterpret_cast<const char*>(data), size);
  flx::Diagnostics diags;
  auto config = flx::ParseGraphConfig(yaml, "fuzz.yaml", env, &diags);
  if (config.ok()) {
    Check(!diags.has_errors(), "a config was returned together with errors");
    Check(!config->models.empty(), "a config without models was accepted");
  } else {
    Check(diags.has_errors(), "a refusal without an error diagnostic");
    Check(!config.status().message().empty(), "a refusal without a message");
  }
  return 0;
}
