// POST /v1/images/edits as the OpenAI SDKs send it: multipart/form-data with the file `image`
// (or one `image[]`), an optional file `mask`, and the fields of a generation request
// (prompt, model, n, size, response_format, output_format, ...) plus the extensions
// strength, seed, steps and guidance. The fields are checked exactly as a generation's JSON
// body is (ParseImagesRequest); the files are decoded (PNG, JPEG, WebP) and turned into the
// request's EditInput:
//   - the image, as RGB (its alpha, if any, only serves as a mask, below);
//   - the mask, OpenAI's way: pixels whose alpha is 0 (fully transparent) are the area to
//     edit, opaque ones are kept; it is converted to FLUX's convention, a gray image where
//     255 = repaint (gray = 255 - alpha, so a pipeline that thresholds at half, as diffusers
//     does, repaints where alpha < 128). It must have the image's size and an alpha channel;
//   - without a mask, an image with transparent pixels is its own mask (OpenAI's dall-e-2
//     rule); an opaque image is edited as a whole (image-to-image).
#ifndef FLX_HOST_HTTP_EDIT_REQUEST_H_
#define FLX_HOST_HTTP_EDIT_REQUEST_H_

#include <map>
#include <string>
#include <variant>

#include "http/api_errors.h"
#include "http/generation_request.h"

namespace flx {

// A multipart body, split: text fields and file parts (by field name, `image[]` read as
// `image`).
struct EditForm {
  std::map<std::string, std::string> fields;
  std::map<std::string, std::vector<std::string>> files;
  std::string json;  // the fields as the JSON body a generation would send
};

// Splits `body` (the whole request body) by the boundary of `content_type`; a 400 naming what
// is wrong (not multipart, too many parts, a file where a field belongs...).
std::variant<EditForm, ApiError> ParseEditForm(const std::string& content_type,
                                               const std::string& body);

// The generation request an edit form asks for, with its decoded images in input.edit; a 400
// naming the field (`image`, `mask`, `strength`, or one of the generation's).
std::variant<ImagesRequest, ApiError> ParseEditRequest(const EditForm& form);

}  // namespace flx

#endif  // FLX_HOST_HTTP_EDIT_REQUEST_H_
