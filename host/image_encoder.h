// Encodes 8-bit RGB/RGBA pixels as PNG, JPEG or WebP files in memory.
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

enum class ImageFormat { kPng, kJpeg, kWebp };

// Parses an OpenAI output_format ("png", "jpeg"/"jpg", "webp"); NOT_FOUND for anything else.
StatusOr<ImageFormat> ParseImageFormat(const std::string& name);
const char* ImageFormatExtension(ImageFormat format);  // "png", "jpeg", "webp"
const char* ImageFormatMimeType(ImageFormat format);   // "image/png", "image/jpeg", "image/webp"
// The MIME type of a file name's extension (png, jpg/jpeg, webp), else
// "application/octet-stream".
const char* MimeTypeOfFileName(const std::string& name);

// The quality JPEG and WebP use when a request sets no output_compression.
constexpr int kDefaultLossyQuality = 90;

// A PNG with `metadata` stored as tEXt chunks (key, value) so a file can say how it was made.
// zlib level 6 balances size and the encode time a server pays per image.
StatusOr<std::string> EncodePng(const PixelView& image,
                                const std::vector<std::pair<std::string, std::string>>& metadata = {},
                                int compression_level = 6);

// A baseline JPEG (alpha dropped); quality 1..100.
StatusOr<std::string> EncodeJpeg(const PixelView& image, int quality = 90);

// A lossy WebP (alpha kept for RGBA); quality 0..100.
StatusOr<std::string> EncodeWebp(const PixelView& image, int quality = kDefaultLossyQuality);

// `image` in `format`: PNG with `metadata`, JPEG and WebP at `quality` (0..100, the request's
// output_compression; JPEG reads 0 as 1); PNG ignores the quality.
StatusOr<std::string> EncodeImage(const PixelView& image, ImageFormat format,
                                  const std::vector<std::pair<std::string, std::string>>& metadata,
                                  int quality = kDefaultLossyQuality);

}  // namespace flx

#endif  // FLX_HOST_IMAGE_ENCODER_H_
