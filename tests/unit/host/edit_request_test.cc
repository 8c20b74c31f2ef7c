// The edits route's input without a server: decoding uploaded PNG, JPEG and WebP files
// (sizes checked before pixels are allocated), and turning a multipart form into a request:
// OpenAI's mask convention (transparent = edit) into FLUX's (255 = repaint), the fields as a
// generation's, and a 400 naming the field for every malformed part.
#include "http/edit_request.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "image_decoder.h"
#include "image_encoder.h"
#include "support/multipart.h"

namespace flx {
namespace {

using test::MultipartBody;

// A width x height RGBA image: red rising with x, green with y, alpha from `alpha(x, y)`.
std::vector<uint8_t> Gradient(uint32_t width, uint32_t height,
                              const std::function<uint8_t(uint32_t, uint32_t)>& alpha) {
  std::vector<uint8_t> rgba(size_t{width} * height * 4);
  for (uint32_t y = 0; y < height; ++y) {
    for (uint32_t x = 0; x < width; ++x) {
      uint8_t* p = &rgba[(size_t{y} * width + x) * 4];
      p[0] = uint8_t(x * 255 / std::max(1u, width - 1));
      p[1] = uint8_t(y * 255 / std::max(1u, height - 1));
      p[2] = 77;
      p[3] = alpha(x, y);
    }
  }
  return rgba;
}

std::string Png(uint32_t width, uint32_t height, uint32_t channels,
                const std::vector<uint8_t>& pixels) {
  return *EncodePng(PixelView{width, height, channels, pixels.data()});
}

std::string OpaquePng(uint32_t width, uint32_t height) {
  return Png(width, height, 4, Gradient(width, height, [](uint32_t, uint32_t) { return 255; }));
}

// Left half transparent (to edit), right half opaque (to keep).
std::string LeftHalfMask(uint32_t width, uint32_t height) {
  return Png(width, height, 4, Gradient(width, height, [width](uint32_t x, uint32_t) {
               return x < width / 2 ? 0 : 255;
             }));
}

std::variant<ImagesRequest, ApiError> Parse(const MultipartBody& body) {
  auto form = ParseEditForm(body.ContentType(), body.Body());
  if (auto* error = std::get_if<ApiError>(&form)) return *error;
  return ParseEditRequest(std::get<EditForm>(form));
}

ApiError ParseError(const MultipartBody& body) {
  auto parsed = Parse(body);
  EXPECT_TRUE(std::holds_alternative<ApiError>(parsed));
  return std::holds_alternative<ApiError>(parsed) ? std::get<ApiError>(parsed) : ApiError{};
}

TEST(ImageDecoderTest, PngJpegAndWebpDecodeToRgba) {
  const std::vector<uint8_t> rgba = Gradient(24, 16, [](uint32_t x, uint32_t) { return x * 10; });
  StatusOr<DecodedImage> png = DecodeImage(Png(24, 16, 4, rgba), "image", 8192);
  ASSERT_TRUE(png.ok()) << png.status().ToString();
  EXPECT_EQ(png->format, "png");
  EXPECT_EQ(png->width, 24u);
  EXPECT_EQ(png->height, 16u);
  EXPECT_TRUE(png->has_alpha);
  EXPECT_EQ(png->rgba, rgba) << "PNG is lossless";

  const std::vector<uint8_t> opaque = Gradient(24, 16, [](uint32_t, uint32_t) { return 255; });
  StatusOr<DecodedImage> jpeg =
      DecodeImage(*EncodeJpeg(PixelView{24, 16, 4, opaque.data()}, 95), "image", 8192);
  ASSERT_TRUE(jpeg.ok()) << jpeg.status().ToString();
  EXPECT_EQ(jpeg->format, "jpeg");
  EXPECT_FALSE(jpeg->has_alpha);
  int worst = 0;
  for (size_t i = 0; i < opaque.size(); ++i)
    worst = std::max(worst, std::abs(opaque[i] - jpeg->rgba[i]));
  EXPECT_LT(worst, 24) << "JPEG is lossy, not wrong";

  StatusOr<DecodedImage> webp =
      DecodeImage(*EncodeWebp(PixelView{24, 16, 4, rgba.data()}, 100), "image", 8192);
  ASSERT_TRUE(webp.ok()) << webp.status().ToString();
  EXPECT_EQ(webp->format, "webp");
  EXPECT_EQ(webp->width, 24u);
  EXPECT_TRUE(webp->has_alpha);
}

TEST(ImageDecoderTest, ForeignCorruptAndHugeFilesAreRefusedByName) {
  StatusOr<DecodedImage> text = DecodeImage("hello, world", "mask", 8192);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), FLX_INVALID_ARGUMENT);
  EXPECT_EQ(text.status().message().rfind("mask: not a PNG, JPEG or WebP image", 0), 0u)
      << text.status().message();

  std::string png = OpaquePng(8, 8);
  png.resize(png.size() / 2);  // cut in the middle of its data
  EXPECT_FALSE(DecodeImage(png, "image", 8192).ok());
  std::string jpeg = *EncodeJpeg(
      PixelView{8, 8, 4, Gradient(8, 8, [](uint32_t, uint32_t) { return 255; }).data()});
  jpeg.resize(20);
  EXPECT_FALSE(DecodeImage(jpeg, "image", 8192).ok());

  // A small file claiming 9000 x 9000 pixels is refused from its header.
  StatusOr<DecodedImage> big = DecodeImage(OpaquePng(16, 9000), "image", 8192);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("16x9000"), std::string::npos) << big.status().message();
}

TEST(EditRequestTest, AMaskTurnsTransparentPixelsIntoTheAreaToRepaint) {
  MultipartBody body;
  body.File("image", "cat.png", "image/png", OpaquePng(32, 16))
      .File("mask", "mask.png", "image/png", LeftHalfMask(32, 16))
      .Field("prompt", "a hat")
      .Field("n", "2")
      .Field("size", "32x16")
      .Field("seed", "42")
      .Field("strength", "0.75")
      .Field("response_format", "b64_json");
  auto parsed = Parse(body);
  ASSERT_TRUE(std::holds_alternative<ImagesRequest>(parsed)) << std::get<ApiError>(parsed).ToJson();
  const ImagesRequest& r = std::get<ImagesRequest>(parsed);
  EXPECT_EQ(r.input.prompt, "a hat");
  EXPECT_EQ(r.input.n, 2u);
  EXPECT_EQ(r.input.width, 32u);
  EXPECT_EQ(r.input.seed, 42u);
  ASSERT_NE(r.input.edit, nullptr);
  const EditInput& edit = *r.input.edit;
  EXPECT_EQ(edit.width, 32u);
  EXPECT_EQ(edit.height, 16u);
  EXPECT_FLOAT_EQ(edit.strength, 0.75f);
  ASSERT_EQ(edit.rgb.size(), 32u * 16 * 3);
  EXPECT_EQ(edit.rgb[3 * 31], 255) << "red at the right edge";
  ASSERT_EQ(edit.mask.size(), 32u * 16);
  EXPECT_EQ(edit.mask[0], 255) << "transparent: repaint";
  EXPECT_EQ(edit.mask[31], 0) << "opaque: keep";
}

TEST(EditRequestTest, WithoutAMaskTheImagesOwnTransparencyIsTheMaskElseItIsImageToImage) {
  MultipartBody opaque;
  opaque.File("image[]", "a.png", "image/png", OpaquePng(16, 16)).Field("prompt", "p");
  auto whole = Parse(opaque);
  ASSERT_TRUE(std::holds_alternative<ImagesRequest>(whole));
  EXPECT_TRUE(std::get<ImagesRequest>(whole).input.edit->mask.empty()) << "image-to-image";
  EXPECT_TRUE(std::isnan(std::get<ImagesRequest>(whole).input.edit->strength));

  MultipartBody holed;
  holed.File("image", "a.png", "image/png", LeftHalfMask(16, 16)).Field("prompt", "p");
  auto inpaint = Parse(holed);
  ASSERT_TRUE(std::holds_alternative<ImagesRequest>(inpaint));
  const std::vector<uint8_t>& mask = std::get<ImagesRequest>(inpaint).input.edit->mask;
  ASSERT_EQ(mask.size(), 256u);
  EXPECT_EQ(mask[0], 255);
  EXPECT_EQ(mask[15], 0);
}

TEST(EditRequestTest, EveryMalformedPartIsA400NamingIt) {
  MultipartBody no_image;
  no_image.Field("prompt", "p");
  EXPECT_EQ(ParseError(no_image).param, "image");

  MultipartBody two;
  two.File("image[]", "a.png", "image/png", OpaquePng(8, 8))
      .File("image[]", "b.png", "image/png", OpaquePng(8, 8))
      .Field("prompt", "p");
  EXPECT_EQ(ParseError(two).param, "image");

  MultipartBody not_image;
  not_image.File("image", "a.txt", "text/plain", "just text").Field("prompt", "p");
  const ApiError text = ParseError(not_image);
  EXPECT_EQ(text.param, "image");
  EXPECT_EQ(text.code, "invalid_image");

  MultipartBody wrong_size;
  wrong_size.File("image", "a.png", "image/png", OpaquePng(16, 16))
      .File("mask", "m.png", "image/png", LeftHalfMask(8, 8))
      .Field("prompt", "p");
  const ApiError size = ParseError(wrong_size);
  EXPECT_EQ(size.param, "mask");
  EXPECT_NE(size.message.find("8x8"), std::string::npos) << size.message;

  MultipartBody no_alpha;
  const std::vector<uint8_t> rgb(16 * 16 * 3, 200);
  no_alpha.File("image", "a.png", "image/png", OpaquePng(16, 16))
      .File("mask", "m.png", "image/png", Png(16, 16, 3, rgb))
      .Field("prompt", "p");
  EXPECT_EQ(ParseError(no_alpha).param, "mask");

  for (const char* strength : {"0", "1.5", "abc", "-0.1"}) {
    MultipartBody bad;
    bad.File("image", "a.png", "image/png", OpaquePng(8, 8))
        .Field("prompt", "p")
        .Field("strength", strength);
    EXPECT_EQ(ParseError(bad).param, "strength") << strength;
  }

  MultipartBody no_prompt;
  no_prompt.File("image", "a.png", "image/png", OpaquePng(8, 8));
  EXPECT_EQ(ParseError(no_prompt).param, "prompt") << "the generation's own checks apply";

  auto json = ParseEditForm("application/json", "{}");
  ASSERT_TRUE(std::holds_alternative<ApiError>(json));
  EXPECT_EQ(std::get<ApiError>(json).code, "invalid_content_type");
}

}  // namespace
}  // namespace flx
