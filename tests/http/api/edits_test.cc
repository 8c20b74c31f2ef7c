// POST /v1/images/edits end to end on the test pipeline (which draws edits: the pattern mixed
// into the image by strength inside the area to repaint, the image untouched outside): the
// kept area comes back pixel for pixel, the parameters say what was done, edits run as jobs
// and streams like generations, and every bad part is a 400 with the envelope.
#include <Poco/Base64Decoder.h>
#include <gtest/gtest.h>

#include <functional>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "image_decoder.h"
#include "image_encoder.h"
#include "support/multipart.h"
#include "test_server.h"

namespace flx::test {
namespace {

constexpr const char* kEdits = "/v1/images/edits";

std::unique_ptr<TestServer> StartReady(ServerOptions options = {}) {
  auto server =
      TestServer::Start(QueuedTestPipeline("{max_concurrent: 1, max_queue: 8}", "{}"), options);
  if (server) {
    EXPECT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }));
  }
  return server;
}

// A 32x16 RGBA picture with alpha from `alpha(x)`.
std::vector<uint8_t> Picture(const std::function<uint8_t(uint32_t)>& alpha) {
  std::vector<uint8_t> rgba(32 * 16 * 4);
  for (uint32_t y = 0; y < 16; ++y) {
    for (uint32_t x = 0; x < 32; ++x) {
      uint8_t* p = &rgba[(y * 32 + x) * 4];
      p[0] = uint8_t(x * 8);
      p[1] = uint8_t(y * 16);
      p[2] = 99;
      p[3] = alpha(x);
    }
  }
  return rgba;
}

std::string Png(const std::vector<uint8_t>& rgba, uint32_t width = 32, uint32_t height = 16) {
  return *EncodePng(PixelView{width, height, 4, rgba.data()});
}

const std::vector<uint8_t> kImage = Picture([](uint32_t) { return 255; });
const std::vector<uint8_t> kLeftHalfMask = Picture([](uint32_t x) { return x < 16 ? 0 : 255; });

HttpResponse PostForm(const TestServer& server, const MultipartBody& body) {
  return server.Post(kEdits, body.Body(), {{"Content-Type", body.ContentType()}});
}

DecodedImage FirstImage(const HttpResponse& r) {
  const std::string b64 =
      r.Json()->getArray("data")->getObject(0)->getValue<std::string>("b64_json");
  std::istringstream in(b64);
  Poco::Base64Decoder decoder(in);
  const std::string png((std::istreambuf_iterator<char>(decoder)), {});
  StatusOr<DecodedImage> image = DecodeImage(png, "response", 8192);
  EXPECT_TRUE(image.ok()) << image.status().ToString();
  return *image;
}

TEST(EditsTest, AMaskedEditKeepsTheOpaqueAreaPixelForPixel) {
  auto server = StartReady();
  ASSERT_NE(server, nullptr);
  MultipartBody body;
  body.File("image", "in.png", "image/png", Png(kImage))
      .File("mask", "mask.png", "image/png", Png(kLeftHalfMask))
      .Field("prompt", "a hat")
      .Field("seed", "7")
      .Field("strength", "0.75");
  const HttpResponse r = PostForm(*server, body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Param(r.Json(), "edit"), "inpaint");
  EXPECT_EQ(Param(r.Json(), "strength"), "0.75");
  const DecodedImage out = FirstImage(r);
  ASSERT_EQ(out.width, 32u) << "an edit keeps its image's size by default";
  ASSERT_EQ(out.height, 16u);
  int changed_left = 0;
  for (uint32_t y = 0; y < 16; ++y) {
    for (uint32_t x = 0; x < 32; ++x) {
      for (int c = 0; c < 3; ++c) {
        const uint8_t in = kImage[(y * 32 + x) * 4 + c];
        const uint8_t got = out.rgba[(y * 32 + x) * 4 + c];
        if (x >= 16) {
          ASSERT_EQ(got, in) << "kept pixel " << x << "," << y;
        } else {
          changed_left += got != in;
        }
      }
    }
  }
  EXPECT_GT(changed_left, 100) << "the transparent half was repainted";
}

TEST(EditsTest, WithoutAMaskTheWholeImageIsEditedAndSeedsRepeat) {
  auto server = StartReady();
  ASSERT_NE(server, nullptr);
  MultipartBody body;
  body.File("image", "in.png", "image/png", Png(kImage)).Field("prompt", "p").Field("seed", "3");
  const HttpResponse first = PostForm(*server, body);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(Param(first.Json(), "edit"), "img2img");
  EXPECT_EQ(Param(first.Json(), "strength"), "0.6") << "diffusers' default strength";
  const HttpResponse again = PostForm(*server, body);
  EXPECT_EQ(FirstImage(again).rgba, FirstImage(first).rgba);
}

TEST(EditsTest, AnEditRunsAsABackgroundJobToo) {
  auto server = StartReady();
  ASSERT_NE(server, nullptr);
  MultipartBody body;
  body.File("image", "in.png", "image/png", Png(kImage))
      .Field("prompt", "p")
      .Field("background", "true");
  const HttpResponse submitted = PostForm(*server, body);
  ASSERT_EQ(submitted.status, 202) << submitted.body;
  const std::string id = submitted.Json()->getValue<std::string>("id");
  HttpResponse job;
  EXPECT_TRUE(WaitFor([&] {
    job = server->Get("/v1/images/generations/" + id);
    return job.Json()->getValue<std::string>("status") == "succeeded";
  }));
  EXPECT_EQ(Param(job.Json(), "edit"), "img2img");
}

TEST(EditsTest, BadPartsAndMisplacedFieldsAre400sWithTheEnvelope) {
  ServerOptions options;
  options.max_upload_bytes = 200000;
  auto server = StartReady(options);
  ASSERT_NE(server, nullptr);
  MultipartBody wrong_size;
  wrong_size.File("image", "in.png", "image/png", Png(kImage))
      .File("mask", "m.png", "image/png", Png(std::vector<uint8_t>(8 * 8 * 4, 0), 8, 8))
      .Field("prompt", "p");
  HttpResponse r = PostForm(*server, wrong_size);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.ErrorField("param"), "mask");
  EXPECT_EQ(r.ErrorField("code"), "invalid_image");

  MultipartBody text;
  text.File("image", "in.txt", "text/plain", "not an image").Field("prompt", "p");
  r = PostForm(*server, text);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.ErrorField("param"), "image");

  r = server->Post(kEdits, R"({"prompt":"p"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.ErrorField("code"), "invalid_content_type");

  r = server->Post("/v1/images/generations", R"({"prompt":"p","strength":0.5})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.ErrorField("param"), "strength");

  EXPECT_EQ(server->Get(kEdits).status, 405);

  MultipartBody huge;
  huge.File("image", "big.png", "image/png", std::string(300000, 'x')).Field("prompt", "p");
  EXPECT_EQ(PostForm(*server, huge).status, 413) << "server.max_upload_bytes";
}

}  // namespace
}  // namespace flx::test
