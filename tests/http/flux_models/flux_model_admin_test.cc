// The flux stage unloaded and loaded again at run time (manual model, admin routes): the
// weights go (loaded false, weights_bytes null) and come back, and the same request gives
// the same image before and after.
#include <gtest/gtest.h>

#include <string>

#include "flux_test_support.h"
#include "test_server.h"

namespace flx::test {
namespace {

constexpr const char* kBody = R"({"prompt":"a red fox","seed":3})";

class FluxModelAdminTest : public DemoModelTest {
 protected:
  std::string Graph() const {
    return "stages:\n"
           "  - {id: queue, kind: scheduler, library: flx_scheduler, type: fifo,\n"
           "     config: {max_concurrent: 1, max_queue: 8}}\n"
           "  - {id: flux, kind: pipeline, library: flx_pipeline_flux, type: flux,\n"
           "     config: {model: \"" +
           model() +
           "\", threads: 1, warmup: true, dtype: float32, default_width: 64,\n"
           "              default_height: 64, default_steps: 2}}\n"
           "models:\n"
           "  flux-test: {chain: [queue, flux], load: manual}\n";
  }

  static Poco::JSON::Object::Ptr Model(const TestServer& server) {
    return server.Get("/v1/models/flux-test").Json();
  }

  static std::string Image(const HttpResponse& r) {
    return r.Json()->getArray("data")->getObject(0)->getValue<std::string>("b64_json");
  }
};

TEST_F(FluxModelAdminTest, UnloadGivesTheWeightsBackAndALoadBringsTheSameModel) {
  ServerOptions options;
  options.admin_keys = {"k"};
  auto server = TestServer::Start(Graph(), options);
  ASSERT_NE(server, nullptr);
  const std::map<std::string, std::string> admin = {{"Authorization", "Bearer k"}};
  EXPECT_EQ(Model(*server)->getValue<std::string>("state"), "unloaded");
  EXPECT_FALSE(Model(*server)->getObject("config")->getValue<bool>("loaded"));

  ASSERT_EQ(server->Post("/v1/models/flux-test/load", "", admin).status, 202);
  ASSERT_TRUE(
      WaitFor([&] { return Model(*server)->getValue<std::string>("state") == "ready"; }, 60));
  const HttpResponse first = server->Post("/v1/images/generations", kBody);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_TRUE(Model(*server)->getObject("config")->getValue<bool>("loaded"));

  const HttpResponse unload = server->Post("/v1/models/flux-test/unload", "", admin);
  ASSERT_EQ(unload.status, 200) << unload.body;
  const auto config = Model(*server)->getObject("config");
  EXPECT_FALSE(config->getValue<bool>("loaded"));
  EXPECT_TRUE(config->isNull("weights_bytes")) << "no copy of the weights is held";
  EXPECT_EQ(server->Post("/v1/images/generations", kBody).status, 503);

  ASSERT_EQ(server->Post("/v1/models/flux-test/load", "", admin).status, 202);
  ASSERT_TRUE(
      WaitFor([&] { return Model(*server)->getValue<std::string>("state") == "ready"; }, 60));
  EXPECT_EQ(
      Model(*server)->getObject("config")->getObject("warmup")->getValue<std::string>("state"),
      "done")
      << "the reload warms up again";
  const HttpResponse again = server->Post("/v1/images/generations", kBody);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Image(again), Image(first));
}

}  // namespace
}  // namespace flx::test
