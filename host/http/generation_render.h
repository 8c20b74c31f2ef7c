// The last two steps of a generation, shared by synchronous requests and background jobs:
// encode (and, for response_format url, store) the images, then render the OpenAI images
// response with fluxserve's additions. Neither touches an HTTP response, so a job runs them
// on its own thread and keeps the JSON.
#ifndef FLX_HOST_HTTP_GENERATION_RENDER_H_
#define FLX_HOST_HTTP_GENERATION_RENDER_H_

#include <chrono>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "generation_service.h"
#include "http/api_errors.h"
#include "http/generation_request.h"
#include "output_store.h"

namespace flx {

struct EncodedImages {
  std::vector<std::string> bytes;  // PNG/JPEG files
  std::vector<std::string> urls;   // with response_format url
  double encode_s = 0;
  double save_s = 0;
};

// Where stored images go and how they are named and linked.
struct ImageStorage {
  const OutputStore* store = nullptr;
  std::string base_url;    // e.g. "http://host:port"; the link is base_url + files prefix + name
  std::string request_id;  // names are <request id>-<n>.<ext> when that is a safe name
  std::function<uint64_t()> next_number;  // process-unique numbers for the names
};

// The URL path under which stored images are served.
constexpr const char* kImageFilesPrefix = "/v1/images/files/";

// Every image of `output` encoded in the requested format (fluxserve, the model and the seed
// as PNG text) and, for response_format url, stored. `on_phase` is told the image_encode and
// save phases. A 500 ApiError when encoding or storing fails.
std::variant<EncodedImages, ApiError> EncodeAndStore(
    const ImagesRequest& request, const std::string& model, const GenerationOutput& output,
    const ImageStorage& storage, const std::function<void(const char*, double)>& on_phase);

// The response body: created, data (b64_json or url, seed, revised_prompt), model,
// output_format, size, parameters, fallback_reason when a recovery ran, and timings (the
// host's queue/generate/encode/save/total and every stage phase of `call`, summed over
// tries; total counts from `start`).
std::string RenderGeneration(const ImagesRequest& request, const std::string& model,
                             const GenerationOutput& output, const EncodedImages& encoded,
                             flx_call& call, std::chrono::steady_clock::time_point start);

}  // namespace flx

#endif  // FLX_HOST_HTTP_GENERATION_RENDER_H_
