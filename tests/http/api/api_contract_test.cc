// The HTTP contract through a real socket: every route, every status, the OpenAI envelope,
// request ids, and bad input that must be refused while the server keeps serving.
#include <Poco/Base64Decoder.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "test_server.h"

namespace flx::test {
namespace {

std::string Base64Decode(const std::string& text) {
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in);
  std::string out((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
  return out;
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = TestServer::Start(QueuedTestPipeline("{max_concurrent: 2, max_queue: 8}", "{}"));
    ASSERT_NE(server_, nullptr);
    ASSERT_TRUE(WaitFor([&] { return server_->Get("/readyz").status == 200; }));
  }
  void ExpectServing() {
    auto r = server_->Post("/v1/images/generations", R"({"prompt":"still here","size":"16x16"})");
    EXPECT_EQ(r.status, 200) << "the server stopped serving: " << r.body;
  }
  std::unique_ptr<TestServer> server_;
};

TEST_F(ApiTest, GeneratesB64PngWithSeedTimingsAndParameters) {
  auto r = server_->Post("/v1/images/generations",
                         R"({"prompt":"a cat","size":"32x16","seed":7,"n":2,"steps":3})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto json = r.Json();
  EXPECT_EQ(json->getValue<std::string>("model"), "test-model");
  EXPECT_EQ(json->getValue<std::string>("size"), "32x16");
  auto data = json->getArray("data");
  ASSERT_EQ(data->size(), 2u);
  for (unsigned i = 0; i < 2; ++i) {
    auto item = data->getObject(i);
    EXPECT_EQ(item->getValue<uint64_t>("seed"), 7u + i) << "image i uses seed + i";
    std::string png = Base64Decode(item->getValue<std::string>("b64_json"));
    ASSERT_GT(png.size(), 8u);
    EXPECT_EQ(png.substr(1, 3), "PNG");
  }
  auto timings = json->getObject("timings");
  for (const char* key : {"queue_s", "generate_s", "encode_s", "save_s", "total_s"}) {
    EXPECT_TRUE(timings->has(key)) << key;
  }
  auto params = json->getObject("parameters");
  EXPECT_EQ(params->getValue<std::string>("steps"), "3");
  EXPECT_EQ(params->getValue<std::string>("width"), "32");
  EXPECT_FALSE(json->has("fallback_reason"));
  EXPECT_FALSE(r.headers["x-request-id"].empty());
}

TEST_F(ApiTest, SameSeedGivesIdenticalBytesAndImageOfABatchMatchesItsSingle) {
  auto a = server_->Post("/v1/images/generations", R"({"prompt":"p","size":"16x16","seed":5,"n":3})");
  auto b = server_->Post("/v1/images/generations", R"({"prompt":"p","size":"16x16","seed":7})");
  ASSERT_EQ(a.status, 200);
  ASSERT_EQ(b.status, 200);
  EXPECT_EQ(a.Json()->getArray("data")->getObject(2)->getValue<std::string>("b64_json"),
            b.Json()->getArray("data")->getObject(0)->getValue<std::string>("b64_json"));
}

TEST_F(ApiTest, WithoutSeedTheReturnedSeedReproducesTheImage) {
  auto a = server_->Post("/v1/images/generations", R"({"prompt":"p","size":"16x16"})");
  ASSERT_EQ(a.status, 200);
  auto item = a.Json()->getArray("data")->getObject(0);
  uint64_t seed = item->getValue<uint64_t>("seed");
  auto b = server_->Post("/v1/images/generations",
                         R"({"prompt":"p","size":"16x16","seed":)" + std::to_string(seed) + "}");
  ASSERT_EQ(b.status, 200);
  EXPECT_EQ(item->getValue<std::string>("b64_json"),
            b.Json()->getArray("data")->getObject(0)->getValue<std::string>("b64_json"));
}

TEST_F(ApiTest, UrlResponseServesTheStoredImage) {
  auto r = server_->Post("/v1/images/generations",
                         R"({"prompt":"x","size":"16x16","response_format":"url"})");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string url = r.Json()->getArray("data")->getObject(0)->getValue<std::string>("url");
  std::string prefix = "http://127.0.0.1:" + std::to_string(server_->port());
  ASSERT_EQ(url.rfind(prefix, 0), 0u) << url;
  auto file = server_->Get(url.substr(prefix.size()));
  EXPECT_EQ(file.status, 200);
  EXPECT_EQ(file.headers["content-type"], "image/png");
  EXPECT_EQ(file.body.substr(1, 3), "PNG");
  EXPECT_EQ(server_->Get("/v1/images/files/..%2Fetc%2Fpasswd").status, 404);
  EXPECT_EQ(server_->Get("/v1/images/files/nope.png").status, 404);
}

TEST_F(ApiTest, JpegOutputFormat) {
  auto r = server_->Post("/v1/images/generations",
                         R"({"prompt":"x","size":"16x16","output_format":"jpeg"})");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string jpeg = Base64Decode(r.Json()->getArray("data")->getObject(0)->getValue<std::string>("b64_json"));
  ASSERT_GE(jpeg.size(), 3u);
  EXPECT_EQ(static_cast<unsigned char>(jpeg[0]), 0xFF);
  EXPECT_EQ(static_cast<unsigned char>(jpeg[1]), 0xD8);
}

TEST_F(ApiTest, WebpOutputFormatAndCompression) {
  auto image = [&](const std::string& body) {
    auto r = server_->Post("/v1/images/generations", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200
               ? Base64Decode(
                     r.Json()->getArray("data")->getObject(0)->getValue<std::string>("b64_json"))
               : std::string();
  };
  const std::string best =
      image(R"({"prompt":"x","size":"64x64","seed":1,"output_format":"webp"})");
  ASSERT_GE(best.size(), 12u);
  EXPECT_EQ(best.substr(0, 4), "RIFF");
  EXPECT_EQ(best.substr(8, 4), "WEBP");
  const std::string small = image(
      R"({"prompt":"x","size":"64x64","seed":1,"output_format":"webp","output_compression":5})");
  EXPECT_LT(small.size(), best.size()) << "a lower quality makes a smaller file";
  const std::string jpeg_best = image(
      R"({"prompt":"x","size":"64x64","seed":1,"output_format":"jpeg","output_compression":100})");
  const std::string jpeg_small = image(
      R"({"prompt":"x","size":"64x64","seed":1,"output_format":"jpeg","output_compression":0})");
  EXPECT_LT(jpeg_small.size(), jpeg_best.size());
  // Stored files are served with their type.
  auto url = server_->Post("/v1/images/generations",
                           R"({"prompt":"x","size":"16x16","output_format":"webp",)"
                           R"("response_format":"url"})");
  ASSERT_EQ(url.status, 200) << url.body;
  const std::string link = url.Json()->getArray("data")->getObject(0)->getValue<std::string>("url");
  auto file = server_->Get(link.substr(link.find("/v1/")));
  EXPECT_EQ(file.status, 200);
  EXPECT_EQ(file.headers["content-type"], "image/webp");
}

TEST_F(ApiTest, RequestIdIsEchoedOrGenerated) {
  auto given = server_->Get("/healthz", {{"X-Request-Id", "my-trace.42"}});
  EXPECT_EQ(given.headers["x-request-id"], "my-trace.42");
  auto bad = server_->Get("/healthz", {{"X-Request-Id", "has spaces and {braces}"}});
  EXPECT_NE(bad.headers["x-request-id"], "has spaces and {braces}");
  EXPECT_EQ(bad.headers["x-request-id"].size(), 36u) << "a generated UUID";
}

TEST_F(ApiTest, ModelsListAndLookup) {
  auto list = server_->Get("/v1/models");
  ASSERT_EQ(list.status, 200);
  auto json = list.Json();
  EXPECT_EQ(json->getValue<std::string>("object"), "list");
  auto model = json->getArray("data")->getObject(0);
  EXPECT_EQ(model->getValue<std::string>("id"), "test-model");
  EXPECT_EQ(model->getValue<std::string>("object"), "model");
  EXPECT_TRUE(model->getValue<bool>("ready"));
  EXPECT_EQ(model->getObject("queue")->getValue<int>("max_concurrent"), 2);
  EXPECT_TRUE(model->getObject("config")->has("calls"));
  EXPECT_TRUE(model->getObject("plugins")->has("pipe"));
  auto one = server_->Get("/v1/models/test-model");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(one.Json()->getValue<std::string>("id"), "test-model");
  auto missing = server_->Get("/v1/models/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.ErrorField("code"), "model_not_found");
}

TEST_F(ApiTest, HealthAndReadiness) {
  EXPECT_EQ(server_->Get("/healthz").status, 200);
  EXPECT_EQ(server_->Get("/readyz").status, 200);
}

TEST_F(ApiTest, UnknownRouteAndWrongMethod) {
  auto r = server_->Get("/v2/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.ErrorField("type"), "invalid_request_error");
  EXPECT_FALSE(r.ErrorField("message").empty());
  auto m = server_->Send("PUT", "/v1/images/generations", "", {});
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.headers["allow"], "GET, POST");  // GET lists the background jobs
  EXPECT_EQ(server_->Send("DELETE", "/v1/models", "", {}).status, 405);
  ExpectServing();
}

TEST_F(ApiTest, UnknownModelIs404WithParam) {
  auto r = server_->Post("/v1/images/generations", R"({"prompt":"x","model":"dall-e-9"})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.ErrorField("param"), "model");
  EXPECT_EQ(r.ErrorField("code"), "model_not_found");
}

TEST_F(ApiTest, UnknownFieldsAreIgnored) {
  auto r = server_->Post("/v1/images/generations",
                         R"({"prompt":"x","size":"16x16","quality":"hd","style":"vivid","moderation":"low","whatever":{"a":[1]}})");
  EXPECT_EQ(r.status, 200) << r.body;
}

struct BadCase {
  const char* name;
  std::string body;
  const char* param;  // expected error.param ("" = null)
};

class BadInputTest : public ApiTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(BadInputTest, RefusedWith400AndTheServerGoesOn) {
  const BadCase& c = GetParam();
  auto r = server_->Post("/v1/images/generations", c.body);
  EXPECT_EQ(r.status, 400) << c.name << ": " << r.body;
  EXPECT_EQ(r.ErrorField("param"), c.param) << c.name << ": " << r.body;
  EXPECT_EQ(r.ErrorField("type"), "invalid_request_error") << c.name;
  EXPECT_FALSE(r.ErrorField("message").empty()) << c.name;
  ExpectServing();
}

INSTANTIATE_TEST_SUITE_P(
    Bodies, BadInputTest,
    ::testing::Values(
        BadCase{"malformed_json", R"({"prompt": "x",)", ""},
        BadCase{"not_an_object", R"(["prompt"])", ""},
        BadCase{"null_body", "null", ""},
        BadCase{"number_body", " 42", ""},
        BadCase{"empty_body", "", ""},
        BadCase{"missing_prompt", R"({"n":1})", "prompt"},
        BadCase{"prompt_not_string", R"({"prompt":42})", "prompt"},
        BadCase{"empty_prompt", R"({"prompt":""})", "prompt"},
        BadCase{"huge_prompt", "{\"prompt\":\"" + std::string(40000, 'a') + "\"}", "prompt"},
        BadCase{"n_zero", R"({"prompt":"x","n":0})", "n"},
        BadCase{"n_eleven", R"({"prompt":"x","n":11})", "n"},
        BadCase{"n_string", R"({"prompt":"x","n":"2"})", "n"},
        BadCase{"n_fraction", R"({"prompt":"x","n":1.5})", "n"},
        BadCase{"size_abc", R"({"prompt":"x","size":"abc"})", "size"},
        BadCase{"size_zero", R"({"prompt":"x","size":"0x0"})", "size"},
        BadCase{"size_huge", R"({"prompt":"x","size":"99999x99999"})", "size"},
        BadCase{"side_above_shared_max", R"({"prompt":"x","size":"8193x16"})", "size"},
        BadCase{"size_number", R"({"prompt":"x","size":512})", "size"},
        BadCase{"seed_negative", R"({"prompt":"x","seed":-1})", "seed"},
        BadCase{"steps_zero", R"({"prompt":"x","steps":0})", "steps"},
        BadCase{"guidance_string", R"({"prompt":"x","guidance_scale":"high"})", "guidance_scale"},
        BadCase{"guidance_negative", R"({"prompt":"x","guidance_scale":-1})", "guidance_scale"},
        BadCase{"response_format", R"({"prompt":"x","response_format":"gif"})", "response_format"},
        BadCase{"output_format", R"({"prompt":"x","output_format":"gif"})", "output_format"},
        BadCase{"output_compression_high", R"({"prompt":"x","output_compression":101})",
                "output_compression"},
        BadCase{"output_compression_text", R"({"prompt":"x","output_compression":"50"})",
                "output_compression"},
        BadCase{"width_contradicts_size", R"({"prompt":"x","size":"16x16","width":32})", "width"},
        BadCase{"max_sequence_length_zero", R"({"prompt":"x","max_sequence_length":0})",
                "max_sequence_length"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(BodyLimitTest, OversizedBodyIs413AndTheServerGoesOn) {
  ServerOptions options;
  options.max_body_bytes = 4096;
  auto server = TestServer::Start(QueuedTestPipeline("{}", "{}"), options);
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }));
  auto r = server->Post("/v1/images/generations",
                        "{\"prompt\":\"" + std::string(1 << 20, 'a') + "\"}");
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(r.ErrorField("code"), "request_too_large");
  EXPECT_EQ(server->Post("/v1/images/generations", R"({"prompt":"ok","size":"16x16"})").status, 200);
}

TEST(PipelineFailureTest, InternalErrorIs500InTheEnvelope) {
  auto server = TestServer::Start(QueuedTestPipeline("{}", "{fail_code: INTERNAL}"));
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }));
  auto r = server->Post("/v1/images/generations", R"({"prompt":"x","size":"16x16"})");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.ErrorField("type"), "server_error");
  EXPECT_NE(r.ErrorField("message").find("injected"), std::string::npos) << r.body;
  EXPECT_EQ(server->Get("/healthz").status, 200);
}

TEST(PipelineFailureTest, InvalidArgumentFromThePipelineIs400) {
  auto server = TestServer::Start(QueuedTestPipeline("{}", "{fail_code: INVALID_ARGUMENT}"));
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }));
  EXPECT_EQ(server->Post("/v1/images/generations", R"({"prompt":"x"})").status, 400);
}

TEST(ReadinessTest, NotReadyWhileLoadingThenReady) {
  auto server = TestServer::Start(QueuedTestPipeline("{}", "{prepare_delay_ms: 300}"));
  ASSERT_NE(server, nullptr);
  auto early = server->Get("/readyz");
  if (early.status == 503) {
    EXPECT_EQ(early.ErrorField("code"), "not_ready");
    auto gen = server->Post("/v1/images/generations", R"({"prompt":"x"})");
    EXPECT_EQ(gen.status, 503) << gen.body;
  }
  EXPECT_EQ(server->Get("/healthz").status, 200) << "live while loading";
  EXPECT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }));
}

TEST(ReadinessTest, FailedPrepareLeavesTheModelNotReadyAndTheServerUp) {
  auto server = TestServer::Start(QueuedTestPipeline("{}", "{prepare_fail: true}"));
  ASSERT_NE(server, nullptr);
  server->graph().WaitPrepared();
  auto ready = server->Get("/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.ErrorField("message").find("failed"), std::string::npos) << ready.body;
  auto gen = server->Post("/v1/images/generations", R"({"prompt":"x"})");
  EXPECT_EQ(gen.status, 503);
  EXPECT_NE(gen.ErrorField("message").find("not ready"), std::string::npos) << gen.body;
  auto model = server->Get("/v1/models/test-model").Json();
  EXPECT_EQ(model->getValue<std::string>("state"), "failed");
  EXPECT_EQ(server->Get("/healthz").status, 200);
}

}  // namespace
}  // namespace flx::test

namespace flx::test {
namespace {

TEST(AuthTest, ApiKeysGuardV1RoutesOnly) {
  ServerOptions options;
  options.api_keys = {"sk-first", "sk-second"};
  auto server = TestServer::Start(QueuedTestPipeline("{}", "{}"), options);
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }));
  auto none = server->Get("/v1/models");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.ErrorField("code"), "invalid_api_key");
  EXPECT_EQ(none.headers["www-authenticate"], "Bearer");
  auto wrong = server->Get("/v1/models", {{"Authorization", "Bearer sk-firs"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(server->Get("/v1/models", {{"Authorization", "Bearer sk-second"}}).status, 200);
  auto gen = server->Post("/v1/images/generations", R"({"prompt":"x","size":"16x16"})",
                          {{"Authorization", "Bearer sk-first"}});
  EXPECT_EQ(gen.status, 200) << gen.body;
  EXPECT_EQ(server->Get("/healthz").status, 200) << "probes need no key";
}

}  // namespace
}  // namespace flx::test

namespace flx::test {
namespace {

TEST_F(ApiTest, ModelConfigCarriesQueueLimitsAndPluginVersions) {
  auto model = server_->Get("/v1/models/test-model").Json();
  auto config = model->getObject("config");
  ASSERT_TRUE(config->has("queue")) << "queue limits inside config";
  EXPECT_EQ(config->getObject("queue")->getValue<int>("max_queue"), 8);
  ASSERT_TRUE(config->has("plugins"));
  EXPECT_FALSE(config->getObject("plugins")->getObject("pipe")->getValue<std::string>(
                   "plugin_version").empty());
  EXPECT_TRUE(config->has("calls")) << "the pipeline's own keys stay";
}

}  // namespace
}  // namespace flx::test
