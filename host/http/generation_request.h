// Parses and validates the body of POST /v1/images/generations (OpenAI images schema plus the
// fluxserve extensions). Unknown fields are ignored, never an error; null counts as absent.
#ifndef FLX_HOST_HTTP_GENERATION_REQUEST_H_
#define FLX_HOST_HTTP_GENERATION_REQUEST_H_

#include <optional>
#include <string>
#include <variant>

#include "generation_service.h"
#include "http/api_errors.h"
#include "image_encoder.h"

namespace flx {

struct ImagesRequest {
  std::string model;  // "" = the default (first) model
  GenerationInput input;
  bool seed_given = false;
  std::string response_format = "b64_json";  // b64_json | url
  ImageFormat output_format = ImageFormat::kPng;
  // JPEG and WebP quality, 0..100: OpenAI's output_compression (100 keeps the most detail);
  // PNG ignores it.
  int output_quality = kDefaultLossyQuality;
  std::string user;
  bool background = false;      // answer 202 with a job (GET /v1/images/generations/{id})
  double timeout_s = 0;         // the request's deadline from its arrival; 0 = the server's
  bool stream = false;          // answer with server-sent events (progress, previews, the images)
  uint32_t partial_images = 0;  // previews in a stream or a job's /events, 0..3
  std::optional<double> strength;  // edits only, (0, 1]: read here so generations can refuse it
};

// Limits on what a request may ask for before any pipeline sees it.
struct RequestLimits {
  static constexpr size_t kMaxPromptChars = 32000;  // gpt-image-1's limit
  static constexpr uint32_t kMaxImages = 10;
  static constexpr uint32_t kMaxSide = FLX_MAX_IMAGE_SIDE;  // shared with every pipeline
  static constexpr uint32_t kMaxSteps = 1000;
  static constexpr uint32_t kMaxSequenceLength = 4096;
  static constexpr double kMaxGuidance = 100.0;
  static constexpr double kMaxTimeoutS = 86400;
  static constexpr uint32_t kMaxPartialImages = 3;  // OpenAI's limit
};

// Returns the request, or a 400 ApiError whose `param` names the offending field.
std::variant<ImagesRequest, ApiError> ParseImagesRequest(const std::string& body);

}  // namespace flx

#endif  // FLX_HOST_HTTP_GENERATION_REQUEST_H_
