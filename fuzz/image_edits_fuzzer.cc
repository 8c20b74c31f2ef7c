// Fuzzes POST /v1/images/edits input: any bytes, as a multipart body, either give an edit whose
// image and mask have the sizes they claim (within the side limit), or a 400 with a message;
// nothing crashes, leaks or hangs, and no decoder allocates for a size the file only claims.
// The seeds hold small PNG, JPEG and WebP images (with masks) as the SDKs send them.
#include <cmath>
#include <cstdint>
#include <string>
#include <variant>

#include "fuzz_support.h"
#include "http/edit_request.h"

using flx::fuzz::Check;

namespace {

constexpr const char* kContentType = "multipart/form-data; boundary=fuzzboundary";

void CheckEdit(const flx::ImagesRequest& request) {
  Check(request.input.edit != nullptr, "an edit without its images");
  const flx::EditInput& edit = *request.input.edit;
  Check(edit.width >= 1 && edit.height >= 1, "an image without pixels");
  Check(edit.width <= flx::RequestLimits::kMaxSide && edit.height <= flx::RequestLimits::kMaxSide,
        "an image above the side limit");
  Check(edit.rgb.size() == size_t{edit.width} * edit.height * 3, "RGB bytes of another size");
  Check(edit.mask.empty() || edit.mask.size() == size_t{edit.width} * edit.height,
        "a mask of another size");
  Check(std::isnan(edit.strength) || (edit.strength > 0 && edit.strength <= 1),
        "strength out of range");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  auto form = flx::ParseEditForm(kContentType, body);
  std::variant<flx::ImagesRequest, flx::ApiError> parsed =
      std::holds_alternative<flx::ApiError>(form)
          ? std::variant<flx::ImagesRequest, flx::ApiError>(std::get<flx::ApiError>(form))
          : flx::ParseEditRequest(std::get<flx::EditForm>(form));
  if (auto* request = std::get_if<flx::ImagesRequest>(&parsed)) {
    CheckEdit(*request);
  } else {
    const flx::ApiError& error = std::get<flx::ApiError>(parsed);
    Check(error.http_status == 400, "an edit was refused with a status other than 400");
    Check(!error.message.empty(), "a refusal without a message");
  }
  return 0;
}
