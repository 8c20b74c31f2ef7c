// LoRA adapters per request on the demo model through a real in-process server: the stage
// lists what its lora_dir holds in /v1/models, a request's `lora` changes its image and says
// so in `parameters`, the same set is merged once, the YAML default set applies when a
// request names none (and `lora: []` turns it off), two requests with and without an adapter
// at once each get their own image, and bad names, scales and files are 400s naming `lora`
// while the server keeps serving.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <future>
#include <string>
#include <vector>

#include "flux_test_support.h"
#include "io/safetensors.h"
#include "io/tensor.h"
#include "test_server.h"

namespace flx::test {
namespace {

using flux::DType;
using flux::TensorView;

constexpr const char* kGenerations = "/v1/images/generations";

// The demo transformer's width (num_attention_heads * attention_head_dim).
int64_t DemoWidth(const std::string& model) {
  std::ifstream in(model + "/transformer/config.json");
  const auto config = Poco::JSON::Parser().parse(in).extract<Poco::JSON::Object::Ptr>();
  return config->getValue<int64_t>("num_attention_heads") *
         config->getValue<int64_t>("attention_head_dim");
}

// A float32 matrix of fixed pseudo-random values in [-0.5, 0.5).
TensorView Matrix(const std::string& name, int64_t rows, int64_t cols, uint32_t seed) {
  std::vector<float> values(static_cast<size_t>(rows * cols));
  for (float& v : values) {
    seed = seed * 1664525u + 1013904223u;
    v = static_cast<float>(seed >> 8) / static_cast<float>(1u << 24) - 0.5f;
  }
  return flux::make_owned_tensor(name, DType::F32, {rows, cols}, values.data(),
                                 values.size() * sizeof(float));
}

class FluxLoraHttpTest : public DemoModelTest {
 protected:
  void SetUp() override {
    DemoModelTest::SetUp();
    lora_dir_ = dir_.path() + "/loras";
    std::filesystem::create_directories(lora_dir_);
    const int64_t width = DemoWidth(model());
    std::vector<TensorView> views;
    for (const char* module :
         {"transformer_blocks.0.attn.to_q", "single_transformer_blocks.0.proj_out"}) {
      const int64_t in =
          std::string(module).find("proj_out") != std::string::npos ? 5 * width : width;
      views.push_back(Matrix(std::string("transformer.") + module + ".lora_A.weight", 4, in, 1));
      views.push_back(Matrix(std::string("transformer.") + module + ".lora_B.weight", width, 4, 2));
    }
    flux::write_safetensors(lora_dir_ + "/grain.safetensors", views, {});
    std::ofstream(lora_dir_ + "/broken.safetensors") << "not a safetensors file";
  }

  std::string Graph(const std::string& extra, int concurrent = 1) const {
    return "stages:\n"
           "  - {id: queue, kind: scheduler, library: flx_scheduler, type: fifo,\n"
           "     config: {max_concurrent: " +
           std::to_string(concurrent) +
           ", max_queue: 8}}\n"
           "  - {id: flux, kind: pipeline, library: flx_pipeline_flux, type: flux,\n"
           "     config: {model: \"" +
           model() +
           "\", threads: 1, warmup: false, dtype: float32, default_width: 64,\n"
           "              default_height: 64, default_steps: 2, lora_dir: \"" +
           lora_dir_ + "\"" + extra +
           "}}\n"
           "models:\n"
           "  flux-test: [queue, flux]\n";
  }

  static std::unique_ptr<TestServer> StartReady(const std::string& graph) {
    auto server = TestServer::Start(graph);
    if (server != nullptr) {
      EXPECT_TRUE(WaitFor([&] { return server->Get("/readyz").status == 200; }, 60));
    }
    return server;
  }

  static std::string Body(const std::string& lora) {
    return R"({"prompt":"a red fox","seed":3)" + (lora.empty() ? "" : ",\"lora\":" + lora) + "}";
  }

  static std::string Image(const HttpResponse& r) {
    return r.Json()->getArray("data")->getObject(0)->getValue<std::string>("b64_json");
  }

  // A 400 naming `lora` whose message holds `part`.
  static void ExpectLoraRefusal(const HttpResponse& r, const std::string& part) {
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.ErrorField("param"), "lora");
    EXPECT_NE(r.ErrorField("message").find(part), std::string::npos) << r.body;
  }

  static Poco::JSON::Object::Ptr LoraConfig(const TestServer& server) {
    const HttpResponse models = server.Get("/v1/models");
    return models.Json()->getArray("data")->getObject(0)->getObject("config")->getObject("lora");
  }

  TempDir dir_;
  std::string lora_dir_;
};

TEST_F(FluxLoraHttpTest, ModelsListTheAdaptersOfTheLoraDir) {
  auto server = StartReady(Graph(""));
  ASSERT_NE(server, nullptr);
  const auto lora = LoraConfig(*server);
  EXPECT_EQ(lora->getValue<std::string>("dir"), lora_dir_);
  const auto available = lora->getArray("available");
  ASSERT_EQ(available->size(), 2u);
  EXPECT_EQ(available->getElement<std::string>(0), "broken");
  EXPECT_EQ(available->getElement<std::string>(1), "grain");
}

TEST_F(FluxLoraHttpTest, AnAdapterChangesTheImageAndIsMergedOnce) {
  auto server = StartReady(Graph(""));
  ASSERT_NE(server, nullptr);
  const HttpResponse base = server->Post(kGenerations, Body(""));
  ASSERT_EQ(base.status, 200) << base.body;
  EXPECT_FALSE(base.Json()->getObject("parameters")->has("lora"));
  const HttpResponse with = server->Post(kGenerations, Body(R"([{"name":"grain","scale":0.9}])"));
  ASSERT_EQ(with.status, 200) << with.body;
  EXPECT_EQ(with.Json()->getObject("parameters")->getValue<std::string>("lora"),
            "grain:0.899999976")
      << "the float the pipeline applied";
  EXPECT_NE(Image(with), Image(base));
  const HttpResponse again = server->Post(kGenerations, Body(R"([{"name":"grain","scale":0.9}])"));
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Image(again), Image(with));
  const auto lora = LoraConfig(*server);
  EXPECT_EQ(lora->getValue<int>("merges"), 1);
  EXPECT_EQ(lora->getValue<int>("hits"), 1);
  EXPECT_EQ(lora->getValue<int>("cached_sets"), 1);
  EXPECT_GT(lora->getValue<int64_t>("cached_bytes"), 0);
}

// A base quantized on load (q8_0): the adapter merges into the expanded weights, so it changes
// the image as it does on the float base, and the layers it leaves alone stay quantized.
TEST_F(FluxLoraHttpTest, AnAdapterAppliesOnAQuantizedBase) {
  auto server = StartReady(Graph(", quantize: {transformer: q8_0}"));
  ASSERT_NE(server, nullptr);
  const auto config = server->Get("/v1/models").Json()->getArray("data")->getObject(0)->getObject(
      "config");
  const auto transformer = config->getObject("quantization")->getObject("transformer");
  EXPECT_EQ(transformer->getValue<std::string>("quantize"), "q8_0");
  const HttpResponse base = server->Post(kGenerations, Body(""));
  ASSERT_EQ(base.status, 200) << base.body;
  const HttpResponse with = server->Post(kGenerations, Body(R"([{"name":"grain","scale":0.9}])"));
  ASSERT_EQ(with.status, 200) << with.body;
  EXPECT_NE(Image(with), Image(base)) << "the adapter was applied over the quantized layers";
  EXPECT_EQ(LoraConfig(*server)->getValue<int>("merges"), 1);
  const HttpResponse after = server->Post(kGenerations, Body(""));
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(Image(after), Image(base)) << "the quantized base is untouched";
}

TEST_F(FluxLoraHttpTest, TheDefaultSetAppliesUnlessTheRequestNamesItsOwn) {
  auto plain = StartReady(Graph(""));
  ASSERT_NE(plain, nullptr);
  const HttpResponse explicit_lora = plain->Post(kGenerations, Body(R"([{"name":"grain"}])"));
  const HttpResponse base = plain->Post(kGenerations, Body(""));
  plain.reset();
  auto server = StartReady(Graph(", lora: [{name: grain}]"));
  ASSERT_NE(server, nullptr);
  const HttpResponse by_default = server->Post(kGenerations, Body(""));
  ASSERT_EQ(by_default.status, 200) << by_default.body;
  EXPECT_EQ(by_default.Json()->getObject("parameters")->getValue<std::string>("lora"), "grain:1");
  EXPECT_EQ(Image(by_default), Image(explicit_lora));
  const HttpResponse none = server->Post(kGenerations, Body("[]"));
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_EQ(Image(none), Image(base)) << "lora: [] turns the default set off";
}

TEST_F(FluxLoraHttpTest, RequestsWithAndWithoutAnAdapterAtOnceKeepTheirOwnImages) {
  auto server = StartReady(Graph("", /*concurrent=*/2));
  ASSERT_NE(server, nullptr);
  const std::string with_body = Body(R"([{"name":"grain"}])");
  const std::string alone_with = Image(server->Post(kGenerations, with_body));
  const std::string alone_without = Image(server->Post(kGenerations, Body("")));
  std::vector<std::future<HttpResponse>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(std::async(std::launch::async, [&, i] {
      return server->Post(kGenerations, i % 2 == 0 ? with_body : Body(""));
    }));
  }
  for (int i = 0; i < 4; ++i) {
    const HttpResponse r = runs[i].get();
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Image(r), i % 2 == 0 ? alone_with : alone_without) << "request " << i;
  }
}

// A set's merged layers count in memory_budget: with room for the model, a default request
// and one merged set, the stage keeps one set (the older one goes, however large lora_cache
// is); one byte less refuses the adapter up front, naming `lora`, and still serves requests
// without it.
TEST_F(FluxLoraHttpTest, MergedSetsCountInTheMemoryBudget) {
  int64_t planned = 0;
  int64_t set_bytes = 0;
  {
    auto roomy = StartReady(Graph(""));
    ASSERT_NE(roomy, nullptr);
    ASSERT_EQ(roomy->Post(kGenerations, Body(R"([{"name":"grain"}])")).status, 200);
    set_bytes = LoraConfig(*roomy)->getValue<int64_t>("cached_bytes");
    const HttpResponse models = roomy->Get("/v1/models");
    planned = models.Json()
                  ->getArray("data")
                  ->getObject(0)
                  ->getObject("config")
                  ->getObject("memory")
                  ->getValue<int64_t>("planned_peak_bytes");
  }
  ASSERT_GT(set_bytes, 0);
  ASSERT_GT(planned, 0);
  auto one_set =
      StartReady(Graph(", lora_cache: 4, memory_budget: " + std::to_string(planned + set_bytes)));
  ASSERT_NE(one_set, nullptr);
  for (const char* scale : {"0.5", "0.7", "0.5"}) {
    const HttpResponse r = one_set->Post(
        kGenerations, Body(R"([{"name":"grain","scale":)" + std::string(scale) + "}]"));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  const auto kept = LoraConfig(*one_set);
  EXPECT_EQ(kept->getValue<int>("cached_sets"), 1);
  EXPECT_EQ(kept->getValue<int64_t>("cached_bytes"), set_bytes);
  EXPECT_EQ(kept->getValue<int>("merges"), 3) << "each set pushed the other out";
  one_set.reset();

  auto no_set = StartReady(Graph(", memory_budget: " + std::to_string(planned + set_bytes - 1)));
  ASSERT_NE(no_set, nullptr);
  ExpectLoraRefusal(no_set->Post(kGenerations, Body(R"([{"name":"grain"}])")),
                    "the LoRA set grain:1 needs");
  EXPECT_EQ(no_set->Post(kGenerations, Body("")).status, 200);
  EXPECT_EQ(LoraConfig(*no_set)->getValue<int>("merges"), 0) << "refused before merging";
}

TEST_F(FluxLoraHttpTest, BadAdaptersAre400sNamingLoraAndTheServerKeepsServing) {
  auto server = StartReady(Graph(""));
  ASSERT_NE(server, nullptr);
  ExpectLoraRefusal(server->Post(kGenerations, Body(R"([{"name":"nope"}])")),
                    "available: broken, grain");
  ExpectLoraRefusal(server->Post(kGenerations, Body(R"([{"name":"broken"}])")),
                    "broken.safetensors");
  const HttpResponse scale = server->Post(kGenerations, Body(R"([{"name":"grain","scale":"x"}])"));
  EXPECT_EQ(scale.status, 400) << scale.body;
  EXPECT_EQ(scale.ErrorField("param"), "lora[0].scale");
  const HttpResponse path = server->Post(kGenerations, Body(R"([{"name":"../grain"}])"));
  EXPECT_EQ(path.status, 400) << path.body;
  EXPECT_EQ(path.ErrorField("param"), "lora[0].name");
  EXPECT_EQ(server->Post(kGenerations, Body("")).status, 200);
}

TEST_F(FluxLoraHttpTest, AModelWithoutALoraDirRefusesAdaptersAsUnsupported) {
  auto server = StartReady(
      "stages:\n"
      "  - {id: flux, kind: pipeline, library: flx_pipeline_flux, type: flux,\n"
      "     config: {model: \"" +
      model() +
      "\", threads: 1, warmup: false, dtype: float32, default_width: 64,\n"
      "              default_height: 64, default_steps: 2}}\n"
      "models:\n"
      "  flux-test: [flux]\n");
  ASSERT_NE(server, nullptr);
  const HttpResponse asked = server->Post(kGenerations, Body(R"([{"name":"grain"}])"));
  EXPECT_EQ(asked.status, 400) << asked.body;
  EXPECT_EQ(asked.ErrorField("code"), "unsupported_operation");
  EXPECT_NE(asked.ErrorField("message").find("no lora_dir"), std::string::npos) << asked.body;
  EXPECT_EQ(server->Post(kGenerations, Body("[]")).status, 200) << "an empty list asks for none";
}

TEST_F(FluxLoraHttpTest, AMissingDefaultAdapterStopsTheConfigWithItsName) {
  const std::string fluxserve = BuildProgram("fluxserve");
  const char* plugin_dir = std::getenv("FLX_PLUGIN_DIR");
  ASSERT_FALSE(fluxserve.empty()) << "FLX_BIN_DIR is not set (run through ctest)";
  ASSERT_NE(plugin_dir, nullptr) << "FLX_PLUGIN_DIR is not set (run through ctest)";
  const std::string config = dir_.path() + "/graph.yaml";
  std::ofstream(config) << "version: 1\nplugin_paths: [\"" << plugin_dir << "\"]\n"
                        << Graph(", lora: [{name: missing}]");
  std::string output;
  EXPECT_NE(RunCommand("'" + fluxserve + "' check-config '" + config + "'", &output), 0);
  EXPECT_NE(output.find("graph.yaml:7:"), std::string::npos) << "located: " << output;
  EXPECT_NE(output.find("unknown LoRA 'missing' (available: broken, grain)"), std::string::npos)
      << output;
}

}  // namespace
}  // namespace flx::test
