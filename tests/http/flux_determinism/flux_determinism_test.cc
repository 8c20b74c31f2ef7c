// Seeds and determinism through the real server and the flux stage (issue 4, item 2): the same
// seed gives bit-identical images, also across a server restart; a request without a seed
// returns the seed it used, and that seed reproduces it; image i of a batch is the
// single-image request with seed + i.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "flux_test_support.h"
#include "test_server.h"

namespace flx::test {
namespace {

class FluxDeterminismTest : public DemoModelTest {
 protected:
  static std::unique_ptr<TestServer> StartReady() {
    std::string graph =
        "stages:\n"
        "  - {id: queue, kind: scheduler, library: flx_scheduler, type: fifo, config: {}}\n"
        "  - {id: flux, kind: pipeline, library: flx_pipeline_flux, type: flux,\n"
        "     config: {model: \"" + model() + "\", dtype: float32, threads: 2, warmup: false,\n"
        "              default_width: 64, default_height: 64}}\n"
        "models:\n"
        "  flux-test: [queue, flux]\n";
    auto server = TestServer::Start(graph);
    if (server != nullptr) {
      EXPECT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }, 60));
    }
    return server;
  }

  // data[i].b64_json of a generation, after checking the request succeeded.
  static std::string Image(const HttpResponse& r, unsigned i = 0) {
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return "";
    return r.Json()->getArray("data")->getObject(i)->getValue<std::string>("b64_json");
  }

};


constexpr const char* kGenerations = "/v1/images/generations";

TEST_F(FluxDeterminismTest, SeedsReproduceImagesAcrossRequestsBatchesAndRestarts) {
  std::string first_image, seed_text;
  {
    auto server = StartReady();
    ASSERT_NE(server, nullptr);
    auto unseeded = server->Post(kGenerations, R"({"prompt":"a red boat","steps":2})");
    first_image = Image(unseeded);
    ASSERT_FALSE(first_image.empty());
    seed_text = std::to_string(
        unseeded.Json()->getArray("data")->getObject(0)->getValue<uint64_t>("seed"));
    auto seeded = server->Post(kGenerations,
                               R"({"prompt":"a red boat","steps":2,"seed":)" + seed_text + "}");
    EXPECT_EQ(Image(seeded), first_image) << "the returned seed must reproduce the image";

    auto batch = server->Post(kGenerations, R"({"prompt":"a red boat","steps":2,"n":2,"seed":10})");
    auto single = server->Post(kGenerations, R"({"prompt":"a red boat","steps":2,"seed":11})");
    EXPECT_EQ(Image(batch, 1), Image(single)) << "image 1 of a batch uses seed + 1";
    EXPECT_NE(Image(batch, 0), Image(batch, 1));
  }
  // A fresh server (a restart) makes the bit-identical image from the same seed.
  auto restarted = StartReady();
  ASSERT_NE(restarted, nullptr);
  auto again = restarted->Post(kGenerations,
                               R"({"prompt":"a red boat","steps":2,"seed":)" + seed_text + "}");
  EXPECT_EQ(Image(again), first_image);
}

}  // namespace
}  // namespace flx::test
