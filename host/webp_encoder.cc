#include <webp/encode.h>

#include "image_encoder.h"

namespace flx {

StatusOr<std::string> EncodeWebp(const PixelView& image, int quality) {
  if (image.pixels == nullptr || image.width == 0 || image.height == 0) {
    return InvalidArgument("EncodeWebp: empty image");
  }
  if (image.channels != 3 && image.channels != 4) {
    return InvalidArgument("EncodeWebp: channels must be 3 or 4");
  }
  if (quality < 0 || quality > 100) return InvalidArgument("EncodeWebp: quality must be 0..100");
  // WebP's own limit on either side.
  if (image.width > WEBP_MAX_DIMENSION || image.height > WEBP_MAX_DIMENSION) {
    return InvalidArgument("EncodeWebp: WebP images are at most " +
                           std::to_string(WEBP_MAX_DIMENSION) + " pixels a side");
  }
  const int stride = static_cast<int>(image.width * image.channels);
  uint8_t* output = nullptr;
  const size_t size =
      image.channels == 4
          ? WebPEncodeRGBA(image.pixels, int(image.width), int(image.height), stride,
                           float(quality), &output)
          : WebPEncodeRGB(image.pixels, int(image.width), int(image.height), stride,
                          float(quality), &output);
  if (size == 0 || output == nullptr) {
    WebPFree(output);
    return Internal("WebP encoding failed");
  }
  std::string bytes(reinterpret_cast<const char*>(output), size);
  WebPFree(output);
  return bytes;
}

}  // namespace flx
