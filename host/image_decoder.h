// Decodes the images clients upload (POST /v1/images/edits): PNG (libpng), JPEG (libjpeg) and
// WebP (libwebp), recognised by their first bytes, into 8-bit RGBA. Sizes are checked from
// the header before any pixel memory is allocated, so a small file that claims a huge image
// is refused, not decoded.
#ifndef FLX_HOST_IMAGE_DECODER_H_
#define FLX_HOST_IMAGE_DECODER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "status.h"

namespace flx {

struct DecodedImage {
  uint32_t width = 0;
  uint32_t height = 0;
  std::vector<uint8_t> rgba;  // width * height * 4 bytes, rows top to bottom
  bool has_alpha = false;     // the file had an alpha channel (PNG with alpha, WebP alpha)
  std::string format;         // "png", "jpeg" or "webp"
};

// The image in `bytes`, or INVALID_ARGUMENT naming `what` (e.g. "image") and the problem: not
// a PNG, JPEG or WebP file, corrupt data, or a side above `max_side` pixels.
StatusOr<DecodedImage> DecodeImage(std::string_view bytes, const std::string& what,
                                   uint32_t max_side);

}  // namespace flx

#endif  // FLX_HOST_IMAGE_DECODER_H_
