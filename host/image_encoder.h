// Encodes 8-bit RGB/RGBA pixels as PNG or JPEG files in memory.
#ifndef FLX_HOST_IMAGE_ENCODER_H_
#define FLX_HOST_IMAGE_ENCODER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "status.h"

namespace flx {

struct PixelView {
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t channels = 3;  // 3 = RGB, 4 = RGBA
  const uint8_t* pixels = nullptr;  // rows of width * channels bytes, no padding
};

enum class ImageFormat { kPng, kJpeg };

// Parses an OpenAI output_format ("png", "jpeg"/"jpg"); NOT_FOUND for anything else.
StatusOr<ImageFormat> ParseImageFormat(const std::string& name);
const char* ImageFormatExtension(ImageFormat format);  // "png", "jpeg"
const char* ImageFormatMimeType(ImageFormat format);   // "image/png", "image/jpeg"

// A PNG with `metadata` stored as tEXt chunks (key, value) so a file can say how it was made.
// zlib level 6 balances size and the encode time a server pays per image.
StatusOr<std::string> EncodePng(const PixelView& image,
                                const std::vector<std::pair<std::string, std::string>>& metadata = {},
                                int compression_level = 6);

// A baseline JPEG (alpha dropped); quality 1..100.
StatusOr<std::string> EncodeJpeg(const PixelView& image, int quality = 90);

StatusOr<std::string> EncodeImage(const PixelView& image, ImageFormat format,
                                  const std::vector<std::pair<std::string, std::string>>& metadata);

}  // namespace flx

#endif  // FLX_HOST_IMAGE_ENCODER_H_
