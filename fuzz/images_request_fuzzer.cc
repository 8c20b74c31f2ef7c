// Fuzzes POST /v1/images/generations body parsing: any bytes either give a request within the
// documented limits or a 400 whose message is non-empty; nothing crashes, leaks or hangs.
#include <cmath>
#include <cstdint>
#include <string>
#include <variant>

#include "fuzz_support.h"
#include "http/generation_request.h"

using flx::RequestLimits;
using flx::fuzz::Check;

namespace {

void CheckWithinLimits(const flx::ImagesRequest& request) {
  const flx::GenerationInput& in = request.input;
  Check(!in.prompt.empty(), "accepted an empty prompt");
  Check(in.prompt.size() <= RequestLimits::kMaxPromptChars, "accepted an over-long prompt");
  Check(in.n >= 1 && in.n <= RequestLimits::kMaxImages, "n out of range");
  Check(in.width <= RequestLimits::kMaxSide && in.height <= RequestLimits::kMaxSide,
        "size out of range");
  Check(in.steps <= RequestLimits::kMaxSteps, "steps out of range");
  Check(in.max_sequence_length <= RequestLimits::kMaxSequenceLength,
        "max_sequence_length out of range");
  Check(std::isnan(in.guidance) || (in.guidance >= 0 && in.guidance <= RequestLimits::kMaxGuidance),
        "guidance out of range");
  Check(request.response_format == "b64_json" || request.response_format == "url",
        "unknown response_format accepted");
  Check(request.output_quality >= 0 && request.output_quality <= 100,
        "output_compression out of range");
  Check(request.partial_images <= RequestLimits::kMaxPartialImages, "partial_images out of range");
  Check(request.timeout_s >= 0 && request.timeout_s <= RequestLimits::kMaxTimeoutS,
        "timeout_s out of range");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  auto parsed = flx::ParseImagesRequest(body);
  if (auto* request = std::get_if<flx::ImagesRequest>(&parsed)) {
    CheckWithinLimits(*request);
  } else {
    const flx::ApiError& error = std::get<flx::ApiError>(parsed);
    Check(error.http_status == 400, "a body was refused with a status other than 400");
    Check(!error.message.empty(), "a refusal without a message");
  }
  return 0;
}
