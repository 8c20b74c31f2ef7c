// Fuzzes the PNG, JPEG and WebP encoders with arbitrary sizes, channel counts, qualities,
// metadata and pixels. Every PNG is read back (chunk CRCs, IHDR, inflated IDAT == the pixels),
// every JPEG's SOF0 must carry the size, every WebP must be read back by libwebp with its size;
// invalid arguments must be refused, never encoded.
#include <webp/decode.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_support.h"
#include "image_encoder.h"

using flx::fuzz::Check;
using flx::fuzz::Violation;

namespace {

// Reads the input front to back; past the end it yields zeros.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t Byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::string Text(size_t max) {
    size_t length = Byte() % (max + 1);
    std::string text;
    for (size_t i = 0; i < length; ++i) text.push_back(char(Byte()));
    return text;
  }
  std::vector<uint8_t> Rest(size_t count) {
    std::vector<uint8_t> bytes(count);
    for (size_t i = 0; i < count; ++i) {
      bytes[i] = at_ < size_ ? data_[at_ + i % (size_ - at_)] : uint8_t(i);
    }
    return bytes;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

uint32_t U32(const std::string& s, size_t at) {
  return uint32_t(uint8_t(s[at])) << 24 | uint32_t(uint8_t(s[at + 1])) << 16 |
         uint32_t(uint8_t(s[at + 2])) << 8 | uint32_t(uint8_t(s[at + 3]));
}

void CheckPng(const std::string& png, const flx::PixelView& image) {
  Check(png.size() >= 8 && png.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0, "PNG signature");
  std::string idat;
  std::string last_type;
  for (size_t at = 8; at < png.size();) {
    Check(at + 12 <= png.size(), "truncated PNG chunk");
    const uint32_t length = U32(png, at);
    Check(at + 12 + length <= png.size(), "PNG chunk runs past the end");
    const std::string type = png.substr(at + 4, 4);
    const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(png.data() + at + 4), 4 + length);
    Check(U32(png, at + 8 + length) == uint32_t(crc), "PNG chunk CRC of " + type);
    if (type == "IHDR") {
      Check(U32(png, at + 8) == image.width && U32(png, at + 12) == image.height, "IHDR size");
    }
    if (type == "IDAT") idat += png.substr(at + 8, length);
    last_type = type;
    at += 12 + length;
  }
  Check(last_type == "IEND", "PNG does not end with IEND");
  const size_t row = size_t(image.width) * image.channels;
  std::vector<uint8_t> raw((row + 1) * image.height);
  uLongf raw_size = raw.size();
  Check(uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(idat.data()),
                   idat.size()) == Z_OK && raw_size == raw.size(), "IDAT does not inflate");
  for (uint32_t y = 0; y < image.height; ++y) {
    Check(std::memcmp(&raw[y * (row + 1) + 1], image.pixels + y * row, row) == 0,
          "PNG row " + std::to_string(y) + " differs from the pixels");
  }
}

void CheckJpeg(const std::string& jpeg, const flx::PixelView& image) {
  Check(jpeg.size() > 4 && uint8_t(jpeg[0]) == 0xFF && uint8_t(jpeg[1]) == 0xD8, "JPEG SOI");
  Check(uint8_t(jpeg[jpeg.size() - 2]) == 0xFF && uint8_t(jpeg.back()) == 0xD9, "JPEG EOI");
  for (size_t at = 2; at + 9 < jpeg.size(); ++at) {
    if (uint8_t(jpeg[at]) == 0xFF && uint8_t(jpeg[at + 1]) == 0xC0) {
      const uint32_t height = uint8_t(jpeg[at + 5]) << 8 | uint8_t(jpeg[at + 6]);
      const uint32_t width = uint8_t(jpeg[at + 7]) << 8 | uint8_t(jpeg[at + 8]);
      Check(width == image.width && height == image.height, "SOF0 size");
      return;
    }
  }
  Violation("JPEG without SOF0");
}

// A WebP that libwebp's own reader accepts, with the image's size.
void CheckWebp(const std::string& webp, const flx::PixelView& image) {
  Check(webp.size() > 12 && webp.compare(0, 4, "RIFF") == 0 && webp.compare(8, 4, "WEBP") == 0,
        "WebP RIFF header");
  int width = 0;
  int height = 0;
  Check(WebPGetInfo(reinterpret_cast<const uint8_t*>(webp.data()), webp.size(), &width, &height) != 0,
        "libwebp reads it back");
  Check(uint32_t(width) == image.width && uint32_t(height) == image.height, "WebP size");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(data, size);
  flx::PixelView image;
  image.width = in.Byte() % 70;   // 0 is refused; small sizes keep each run fast
  image.height = in.Byte() % 70;
  image.channels = in.Byte() % 6;  // only 3 and 4 are valid
  const int format = in.Byte() % 3;  // 0 PNG, 1 JPEG, 2 WebP
  const int quality = int(in.Byte()) - 10;  // -10..245: 1..100 are valid
  std::vector<std::pair<std::string, std::string>> metadata;
  for (int i = in.Byte() % 4; i > 0; --i) metadata.emplace_back(in.Text(90), in.Text(200));
  std::vector<uint8_t> pixels = in.Rest(size_t(image.width) * image.height * image.channels);
  image.pixels = pixels.data();

  const bool valid_image = image.width > 0 && image.height > 0 &&
                           (image.channels == 3 || image.channels == 4);
  if (format == 1) {
    auto encoded = flx::EncodeJpeg(image, quality);
    Check(encoded.ok() == (valid_image && quality >= 1 && quality <= 100), "JPEG validation");
    if (encoded.ok()) CheckJpeg(*encoded, image);
  } else if (format == 2) {
    auto encoded = flx::EncodeWebp(image, quality);
    Check(encoded.ok() == (valid_image && quality >= 0 && quality <= 100), "WebP validation");
    if (encoded.ok()) CheckWebp(*encoded, image);
  } else {
    auto encoded = flx::EncodePng(image, metadata);
    Check(encoded.ok() == valid_image, "PNG validation");
    if (encoded.ok()) CheckPng(*encoded, image);
  }
  return 0;
}
