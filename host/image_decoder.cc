#include "image_decoder.h"

#include <jpeglib.h>
#include <png.h>
#include <webp/decode.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>

namespace flx {
namespace {

bool StartsWith(std::string_view bytes, std::string_view magic, size_t at = 0) {
  return bytes.size() >= at + magic.size() && bytes.substr(at, magic.size()) == magic;
}

Status Invalid(const std::string& what, const std::string& why) {
  return InvalidArgument(what + ": " + why);
}

Status CheckSides(uint64_t width, uint64_t height, uint32_t max_side, const std::string& what) {
  if (width == 0 || height == 0) return Invalid(what, "the image has no pixels");
  if (width > max_side || height > max_side) {
    return Invalid(what, "the image is " + std::to_string(width) + "x" + std::to_string(height) +
                             "; sides above " + std::to_string(max_side) + " are refused");
  }
  return Status::Ok();
}

StatusOr<DecodedImage> DecodePng(std::string_view bytes, const std::string& what,
                                 uint32_t max_side) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    const std::string why = image.message;
    png_image_free(&image);
    return Invalid(what, "not a readable PNG (" + why + ")");
  }
  if (Status sides = CheckSides(image.width, image.height, max_side, what); !sides.ok()) {
    png_image_free(&image);
    return sides;
  }
  DecodedImage out;
  out.width = image.width;
  out.height = image.height;
  out.has_alpha = (image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  out.format = "png";
  image.format = PNG_FORMAT_RGBA;
  out.rgba.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, out.rgba.data(), 0, nullptr)) {
    const std::string why = image.message;
    png_image_free(&image);
    return Invalid(what, "corrupt PNG data (" + why + ")");
  }
  return out;
}

// libjpeg reports fatal errors through error_exit, which must not return: it jumps back here.
struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void JpegErrorExit(j_common_ptr info) {
  auto* error = reinterpret_cast<JpegError*>(info->err);
  (*info->err->format_message)(info, error->message);
  std::longjmp(error->jump, 1);
}

// The C part of the JPEG decode: no C++ object with a destructor lives across the setjmp.
// Returns nullptr on success, else libjpeg's message (in `error`).
const char* ReadJpeg(const unsigned char* data, unsigned long size, uint32_t max_side,
                     DecodedImage* out, std::vector<uint8_t>* rgb, JpegError* error) {
  jpeg_decompress_struct info{};
  info.err = jpeg_std_error(&error->manager);
  error->manager.error_exit = JpegErrorExit;
  if (setjmp(error->jump)) {
    jpeg_destroy_decompress(&info);
    return error->message;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data, size);
  jpeg_read_header(&info, TRUE);
  if (info.image_width == 0 || info.image_height == 0 || info.image_width > max_side ||
      info.image_height > max_side) {
    out->width = info.image_width;
    out->height = info.image_height;
    jpeg_destroy_decompress(&info);
    return "";  // sides: the caller words it
  }
  info.out_color_space = JCS_RGB;
  jpeg_start_decompress(&info);
  out->width = info.output_width;
  out->height = info.output_height;
  rgb->resize(size_t{info.output_width} * info.output_height * 3);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = rgb->data() + size_t{info.output_scanline} * info.output_width * 3;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return nullptr;
}

StatusOr<DecodedImage> DecodeJpeg(std::string_view bytes, const std::string& what,
                                  uint32_t max_side) {
  DecodedImage out;
  std::vector<uint8_t> rgb;
  JpegError error{};
  const char* failed =
      ReadJpeg(reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()), max_side, &out, &rgb, &error);
  if (failed != nullptr && *failed == '\0') {
    return CheckSides(out.width, out.height, max_side, what);
  }
  if (failed != nullptr) return Invalid(what, std::string("corrupt JPEG data (") + failed + ")");
  out.format = "jpeg";
  out.rgba.resize(size_t{out.width} * out.height * 4);
  for (size_t i = 0, n = size_t{out.width} * out.height; i < n; ++i) {
    std::memcpy(&out.rgba[i * 4], &rgb[i * 3], 3);
    out.rgba[i * 4 + 3] = 255;
  }
  return out;
}

StatusOr<DecodedImage> DecodeWebp(std::string_view bytes, const std::string& what,
                                  uint32_t max_side) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  WebPBitstreamFeatures features;
  if (WebPGetFeatures(data, bytes.size(), &features) != VP8_STATUS_OK) {
    return Invalid(what, "not a readable WebP image");
  }
  FLX_RETURN_IF_ERROR(
      CheckSides(uint64_t(features.width), uint64_t(features.height), max_side, what));
  DecodedImage out;
  out.width = static_cast<uint32_t>(features.width);
  out.height = static_cast<uint32_t>(features.height);
  out.has_alpha = features.has_alpha != 0;
  out.format = "webp";
  out.rgba.resize(size_t{out.width} * out.height * 4);
  if (WebPDecodeRGBAInto(data, bytes.size(), out.rgba.data(), out.rgba.size(),
                         static_cast<int>(out.width * 4)) == nullptr) {
    return Invalid(what, "corrupt WebP data");
  }
  return out;
}

}  // namespace

StatusOr<DecodedImage> DecodeImage(std::string_view bytes, const std::string& what,
                                   uint32_t max_side) {
  if (StartsWith(bytes, "\x89PNG\r\n\x1a\n")) return DecodePng(bytes, what, max_side);
  if (StartsWith(bytes, "\xff\xd8\xff")) return DecodeJpeg(bytes, what, max_side);
  if (StartsWith(bytes, "RIFF") && StartsWith(bytes, "WEBP", 8)) {
    return DecodeWebp(bytes, what, max_side);
  }
  return Invalid(what, "not a PNG, JPEG or WebP image (" + std::to_string(bytes.size()) +
                           " bytes that start with none of their signatures)");
}

}  // namespace flx
