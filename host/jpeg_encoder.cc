// JPEG through libjpeg(-turbo). libjpeg reports errors by calling error_exit, which must not
// return; we longjmp back out of the library (only C frames lie between), never across C++.
#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <vector>

// jpeglib.h uses size_t and FILE without including their headers.
#include <jpeglib.h>

#include "image_encoder.h"

namespace flx {
namespace {

struct JpegErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void OnJpegError(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Runs the C part; returns false with `why` set on error. Kept free of C++ objects with
// destructors so the longjmp skips none.
bool CompressJpeg(const PixelView& image, int quality, const uint8_t* rgb, unsigned char** buffer,
                  unsigned long* size, char* why) {
  jpeg_compress_struct cinfo;
  JpegErrorManager err;
  cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = &OnJpegError;
  if (setjmp(err.jump)) {
    std::snprintf(why, JMSG_LENGTH_MAX, "%s", err.message);
    jpeg_destroy_compress(&cinfo);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, buffer, size);
  cinfo.image_width = image.width;
  cinfo.image_height = image.height;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(rgb + size_t(cinfo.next_scanline) * image.width * 3);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

}  // namespace

StatusOr<std::string> EncodeJpeg(const PixelView& image, int quality) {
  if (image.width == 0 || image.height == 0 || image.pixels == nullptr ||
      (image.channels != 3 && image.channels != 4)) {
    return InvalidArgument("EncodeJpeg: need width, height > 0, pixels, and 3 or 4 channels");
  }
  if (quality < 1 || quality > 100) return InvalidArgument("EncodeJpeg: quality must be 1..100");
  std::vector<uint8_t> rgb;
  const uint8_t* src = image.pixels;
  if (image.channels == 4) {
    rgb.resize(size_t(image.width) * image.height * 3);
    for (size_t i = 0, n = size_t(image.width) * image.height; i < n; ++i) {
      rgb[i * 3 + 0] = image.pixels[i * 4 + 0];
      rgb[i * 3 + 1] = image.pixels[i * 4 + 1];
      rgb[i * 3 + 2] = image.pixels[i * 4 + 2];
    }
    src = rgb.data();
  }
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  char why[JMSG_LENGTH_MAX] = {0};
  bool ok = CompressJpeg(image, quality, src, &buffer, &size, why);
  std::string out;
  if (ok) out.assign(reinterpret_cast<char*>(buffer), size);
  std::free(buffer);
  if (!ok) return Internal(std::string("EncodeJpeg: ") + why);
  return out;
}

}  // namespace flx
