// PNG writer: signature, IHDR, tEXt, one IDAT stream (filter type 0 per row), IEND.
// PNG spec: https://www.w3.org/TR/png/ — chunk = length, type, data, CRC-32 of type+data.
#include <zlib.h>

#include <cstring>
#include <vector>

#include "image_encoder.h"

namespace flx {
namespace {

void PutU32(std::string& out, uint32_t v) {
  out.push_back(char(v >> 24));
  out.push_back(char(v >> 16));
  out.push_back(char(v >> 8));
  out.push_back(char(v));
}

void PutChunk(std::string& out, const char type[4], const std::string& data) {
  PutU32(out, uint32_t(data.size()));
  size_t type_at = out.size();
  out.append(type, 4);
  out += data;
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(out.data() + type_at), uInt(4 + data.size()));
  PutU32(out, uint32_t(crc));
}

}  // namespace

StatusOr<std::string> EncodePng(const PixelView& image,
                                const std::vector<std::pair<std::string, std::string>>& metadata,
                                int compression_level) {
  if (image.width == 0 || image.height == 0 || image.pixels == nullptr ||
      (image.channels != 3 && image.channels != 4)) {
    return InvalidArgument("EncodePng: need width, height > 0, pixels, and 3 or 4 channels");
  }
  const size_t row = size_t(image.width) * image.channels;
  // Each scanline is prefixed by its filter byte (0 = none): for noisy diffusion output the
  // adaptive filters buy little size for a lot of time.
  std::vector<uint8_t> raw((row + 1) * image.height);
  for (uint32_t y = 0; y < image.height; ++y) {
    raw[y * (row + 1)] = 0;
    std::memcpy(&raw[y * (row + 1) + 1], image.pixels + y * row, row);
  }
  uLongf bound = compressBound(uLong(raw.size()));
  std::string compressed(bound, '\0');
  if (compress2(reinterpret_cast<Bytef*>(compressed.data()), &bound, raw.data(), uLong(raw.size()),
                compression_level) != Z_OK) {
    return Internal("EncodePng: zlib compression failed");
  }
  compressed.resize(bound);

  std::string out;
  out.reserve(compressed.size() + 128);
  out.append("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  PutU32(ihdr, image.width);
  PutU32(ihdr, image.height);
  ihdr.push_back(8);                                 // bit depth
  ihdr.push_back(image.channels == 4 ? 6 : 2);       // colour type: RGBA or RGB
  ihdr.push_back(0);                                 // compression: deflate
  ihdr.push_back(0);                                 // filter method 0
  ihdr.push_back(0);                                 // no interlace
  PutChunk(out, "IHDR", ihdr);
  for (const auto& [key, value] : metadata) {
    // tEXt keys are 1-79 Latin-1 bytes without NUL; values have no NUL.
    if (key.empty() || key.size() > 79 || key.find('\0') != std::string::npos) continue;
    std::string text = key;
    text.push_back('\0');
    for (char c : value) {
      if (c != '\0') text.push_back(c);
    }
    PutChunk(out, "tEXt", text);
  }
  PutChunk(out, "IDAT", compressed);
  PutChunk(out, "IEND", "");
  return out;
}

StatusOr<ImageFormat> ParseImageFormat(const std::string& name) {
  if (name == "png") return ImageFormat::kPng;
  if (name == "jpeg" || name == "jpg") return ImageFormat::kJpeg;
  if (name == "webp") return ImageFormat::kWebp;
  return NotFound("unsupported output_format '" + name + "' (supported: png, jpeg, webp)");
}

const char* ImageFormatExtension(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kWebp:
      return "webp";
    case ImageFormat::kPng:
      break;
  }
  return "png";
}

const char* ImageFormatMimeType(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "image/jpeg";
    case ImageFormat::kWebp:
      return "image/webp";
    case ImageFormat::kPng:
      break;
  }
  return "image/png";
}

const char* MimeTypeOfFileName(const std::string& name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return "application/octet-stream";
  StatusOr<ImageFormat> format = ParseImageFormat(name.substr(dot + 1));
  return format.ok() ? ImageFormatMimeType(*format) : "application/octet-stream";
}

StatusOr<std::string> EncodeImage(const PixelView& image, ImageFormat format,
                                  const std::vector<std::pair<std::string, std::string>>& metadata,
                                  int quality) {
  switch (format) {
    case ImageFormat::kJpeg:
      return EncodeJpeg(image, quality < 1 ? 1 : quality);
    case ImageFormat::kWebp:
      return EncodeWebp(image, quality);
    case ImageFormat::kPng:
      break;
  }
  return EncodePng(image, metadata);
}

}  // namespace flx
