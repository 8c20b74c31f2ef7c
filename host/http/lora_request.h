// Reads the `lora` field of an images request (a fluxserve extension): the LoRA adapters to
// apply, as [{"name": "...", "scale": 0.8}, ...]. Absent or null = the model's default set;
// [] = none. Whether a name exists is the pipeline's to say; here only the shape is checked.
#ifndef FLX_HOST_HTTP_LORA_REQUEST_H_
#define FLX_HOST_HTTP_LORA_REQUEST_H_

#include <Poco/JSON/Object.h>

#include <optional>
#include <vector>

#include "generation_service.h"
#include "http/api_errors.h"

namespace flx {

struct LoraLimits {
  static constexpr size_t kMaxAdapters = 8;
  static constexpr size_t kMaxNameChars = 200;
  static constexpr double kMaxAbsScale = 100.0;
};

// Sets `*out` from obj["lora"] (left alone when absent or null), or returns a 400 whose
// param is "lora" (or "lora[i].name" / "lora[i].scale").
std::optional<ApiError> ReadLoras(const Poco::JSON::Object& obj,
                                  std::optional<std::vector<LoraChoice>>* out);

}  // namespace flx

#endif  // FLX_HOST_HTTP_LORA_REQUEST_H_
