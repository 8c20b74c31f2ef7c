// Loads flx_test_pipeline.so through the ABI with the fake host and checks the behaviour
// host tests rely on.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fake_host.h"

namespace flx::testing {
namespace {

constexpr std::chrono::milliseconds kPatience(20000);

class TestPipelinePluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = PluginPath("flx_test_pipeline");
    ASSERT_FALSE(path.empty()) << "FLX_PLUGIN_DIR is not set (CTest sets it)";
    std::string why;
    plugin_ = LoadedPlugin::Open(path, &why);
    ASSERT_TRUE(plugin_) << path << ": " << why;
  }

  // Creates a pipeline of `type` with `config`; fails the test when create() fails.
  std::unique_ptr<Instance> Create(const std::string& type,
                                   std::map<std::string, std::string> config = {}) {
    config_.scalars = std::move(config);
    const flx_factory* factory = plugin_->Find(FLX_KIND_PIPELINE, type);
    EXPECT_TRUE(factory) << "no pipeline type " << type;
    if (!factory) return nullptr;
    ErrorPtr error;
    std::unique_ptr<Instance> instance = Instance::Create(*factory, host_, config_, &error);
    EXPECT_TRUE(instance) << Describe(error.get());
    return instance;
  }

  ErrorPtr CreateError(const std::string& type, std::map<std::string, std::string> config) {
    config_.scalars = std::move(config);
    ErrorPtr error;
    std::unique_ptr<Instance> instance =
        Instance::Create(*plugin_->Find(FLX_KIND_PIPELINE, type), host_, config_, &error);
    EXPECT_FALSE(instance) << "create() accepted a bad config";
    return error;
  }

  static ErrorPtr Generate(const Instance& pipeline, const flx_request& request,
                           flx_result* result) {
    return ErrorPtr(
        pipeline.iface<flx_pipeline_iface>().generate(pipeline.self(), &request, result));
  }

  std::unique_ptr<LoadedPlugin> plugin_;
  flx_host host_;
  flx_config config_;
};

TEST_F(TestPipelinePluginTest, OffersSerialAndThreadsafeTypes) {
  const flx_factory* serial = plugin_->Find(FLX_KIND_PIPELINE, "test");
  const flx_factory* threadsafe = plugin_->Find(FLX_KIND_PIPELINE, "test_threadsafe");
  ASSERT_TRUE(serial);
  ASSERT_TRUE(threadsafe);
  EXPECT_EQ(serial->flags & FLX_FLAG_THREADSAFE, 0u);
  EXPECT_EQ(threadsafe->flags & FLX_FLAG_THREADSAFE, FLX_FLAG_THREADSAFE);
  EXPECT_STREQ(plugin_->info().name, "flx_test_pipeline");
}

TEST_F(TestPipelinePluginTest, DefaultsFillWhatTheRequestLeavesOut) {
  auto pipeline = Create("test");
  ASSERT_TRUE(pipeline);
  flx_call call;
  flx_request request = DefaultRequest("a lighthouse", &call);
  request.seed = 7;
  flx_result result;
  ErrorPtr error = Generate(*pipeline, request, &result);
  ASSERT_FALSE(error) << Describe(error.get());

  ASSERT_EQ(result.images.size(), 1u);
  EXPECT_EQ(result.images[0].width, 64u);
  EXPECT_EQ(result.images[0].height, 64u);
  EXPECT_EQ(result.images[0].channels, 3u);
  EXPECT_EQ(result.images[0].seed, 7u);
  const std::map<std::string, std::string> expected_params = {
      {"width", "64"}, {"height", "64"}, {"steps", "4"}, {"guidance", "0"}};
  EXPECT_EQ(result.params, expected_params);

  std::vector<FakeEvent> steps = host_.EventsOfType(FLX_EVENT_STEP);
  ASSERT_EQ(steps.size(), 4u);
  for (uint32_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].step, i + 1);
    EXPECT_EQ(steps[i].total, 4u);
  }
  std::vector<FakeEvent> phases = host_.EventsOfType(FLX_EVENT_PHASE);
  ASSERT_EQ(phases.size(), 1u);
  EXPECT_EQ(phases[0].name, "render");
  EXPECT_EQ(phases[0].request_id, call.request_id);
}

TEST_F(TestPipelinePluginTest, PreviewsGoOutAfterTheStepsTheHostAsksFor) {
  auto pipeline = Create("test");
  ASSERT_TRUE(pipeline);
  flx_call call;
  call.preview_steps = {2, 3};
  flx_request request = DefaultRequest("a fox", &call);
  request.steps = 4;
  flx_result result;
  ASSERT_FALSE(Generate(*pipeline, request, &result));
  const std::vector<flx_call::Preview> previews = call.Previews();
  ASSERT_EQ(previews.size(), 2u);
  EXPECT_EQ(previews[0].step, 2u);
  EXPECT_EQ(previews[1].step, 3u);
  EXPECT_EQ(previews[1].total, 4u);
  EXPECT_EQ(previews[0].channels, 3u);
  ASSERT_EQ(previews[0].pixels.size(), size_t(previews[0].width) * previews[0].height * 3);
  EXPECT_EQ(previews[0].pixels[0], 255 * 2 / 4);
}

TEST_F(TestPipelinePluginTest, ImagesAreDeterministicPerSeed) {
  auto pipeline = Create("test");
  ASSERT_TRUE(pipeline);
  flx_request request = DefaultRequest("a red fox", nullptr);
  request.seed = 100;
  request.n = 3;
  flx_result batch;
  ASSERT_FALSE(Generate(*pipeline, request, &batch));
  ASSERT_EQ(batch.images.size(), 3u);

  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(batch.images[i].seed, 100u + i);
    flx_request single = DefaultRequest("a red fox", nullptr);
    single.seed = 100 + i;
    flx_result alone;
    ASSERT_FALSE(Generate(*pipeline, single, &alone));
    EXPECT_EQ(alone.images.at(0).pixels, batch.images[i].pixels)
        << "image " << i << " of a batch must equal a single image with seed + " << i;
  }
  EXPECT_NE(batch.images[0].pixels, batch.images[1].pixels);

  flx_request other_prompt = DefaultRequest("a blue fox", nullptr);
  other_prompt.seed = 100;
  flx_result other;
  ASSERT_FALSE(Generate(*pipeline, other_prompt, &other));
  EXPECT_NE(other.images.at(0).pixels, batch.images[0].pixels);
}

TEST_F(TestPipelinePluginTest, OverridesWinOverRequestValues) {
  auto pipeline = Create("test");
  ASSERT_TRUE(pipeline);
  flx_request request = DefaultRequest("p", nullptr);
  request.width = 32;
  request.height = 16;
  request.steps = 8;
  const flx_kv overrides[] = {{"width", "8"}, {"steps", "2"}, {"attention_slicing", "max"}};
  request.overrides = overrides;
  request.n_overrides = 3;
  flx_result result;
  ErrorPtr error = Generate(*pipeline, request, &result);
  ASSERT_FALSE(error) << Describe(error.get());
  ASSERT_EQ(result.images.size(), 1u);
  EXPECT_EQ(result.images[0].width, 8u);
  EXPECT_EQ(result.images[0].height, 16u);
  EXPECT_EQ(result.params["width"], "8");
  EXPECT_EQ(result.params["height"], "16");
  EXPECT_EQ(result.params["steps"], "2");
  EXPECT_EQ(host_.EventsOfType(FLX_EVENT_STEP).size(), 2u);
}

TEST_F(TestPipelinePluginTest, MalformedOverrideNamesTheParameter) {
  auto pipeline = Create("test");
  ASSERT_TRUE(pipeline);
  for (const char* value : {"half", "", "-3", "0", "99999"}) {
    flx_request request = DefaultRequest("p", nullptr);
    const flx_kv overrides[] = {{"steps", value}};
    request.overrides = overrides;
    request.n_overrides = 1;
    flx_result result;
    ErrorPtr error = Generate(*pipeline, request, &result);
    ASSERT_TRUE(error) << "steps=\"" << value << "\" was accepted";
    EXPECT_EQ(error->code, FLX_INVALID_ARGUMENT) << Describe(error.get());
    EXPECT_EQ(error->details["param"], "steps") << Describe(error.get());
  }
}

TEST_F(TestPipelinePluginTest, RelativeOverridesScaleStepsAndSides) {
  struct Params {
    uint32_t width, height, steps;
  };
  struct Case {
    std::string name;
    std::map<std::string, std::string> config;
    Params request;  // 0 = the pipeline's default
    std::vector<flx_kv> overrides;
    Params want;
  };
  const std::vector<Case> cases = {
      {"no overrides keep the defaults", {}, {0, 0, 0}, {}, {64, 64, 4}},
      {"steps halved", {}, {0, 0, 8}, {{"steps_factor", "0.5"}}, {64, 64, 4}},
      {"steps rounded to nearest", {}, {0, 0, 3}, {{"steps_factor", "0.5"}}, {64, 64, 2}},
      {"steps bounded below by min_steps",
       {},
       {0, 0, 8},
       {{"steps_factor", "0.25"}, {"min_steps", "3"}},
       {64, 64, 3}},
      {"steps never below one", {}, {0, 0, 1}, {{"steps_factor", "0.125"}}, {64, 64, 1}},
      {"min_steps never raises steps",
       {},
       {0, 0, 2},
       {{"steps_factor", "0.5"}, {"min_steps", "4"}},
       {64, 64, 2}},
      {"factor applies to an absolute override",
       {},
       {0, 0, 0},
       {{"steps", "10"}, {"steps_factor", "0.5"}},
       {64, 64, 5}},
      {"sides halved", {}, {128, 96, 0}, {{"resolution_factor", "0.5"}}, {64, 48, 4}},
      {"sides floored to the multiple",
       {},
       {100, 100, 0},
       {{"resolution_factor", "0.5"}},
       {48, 48, 4}},
      {"min_side rounded up to the multiple",
       {},
       {128, 128, 0},
       {{"resolution_factor", "0.25"}, {"min_side", "40"}},
       {48, 48, 4}},
      {"sides never below the multiple",
       {},
       {20, 20, 0},
       {{"resolution_factor", "0.5"}},
       {16, 16, 4}},
      {"sides never raised", {}, {8, 8, 0}, {{"resolution_factor", "0.5"}}, {8, 8, 4}},
      {"size_multiple sets the granularity",
       {{"size_multiple", "64"}},
       {256, 200, 0},
       {{"resolution_factor", "0.5"}},
       {128, 64, 4}},
  };
  for (const Case& c : cases) {
    auto pipeline = Create("test", c.config);
    ASSERT_TRUE(pipeline) << c.name;
    flx_request request = DefaultRequest("p", nullptr);
    request.width = c.request.width;
    request.height = c.request.height;
    request.steps = c.request.steps;
    request.overrides = c.overrides.data();
    request.n_overrides = c.overrides.size();
    flx_result result;
    ErrorPtr error = Generate(*pipeline, request, &result);
    ASSERT_FALSE(error) << c.name << ": " << Describe(error.get());
    ASSERT_EQ(result.images.size(), 1u) << c.name;
    EXPECT_EQ(result.images[0].width, c.want.width) << c.name;
    EXPECT_EQ(result.images[0].height, c.want.height) << c.name;
    EXPECT_EQ(result.params["width"], std::to_string(c.want.width)) << c.name;
    EXPECT_EQ(result.params["height"], std::to_string(c.want.height)) << c.name;
    EXPECT_EQ(result.params["steps"], std::to_string(c.want.steps)) << c.name;
  }
}

TEST_F(TestPipelinePluginTest, EveryOverrideIsReportedAsAParameter) {
  auto pipeline = Create("test");
  ASSERT_TRUE(pipeline);
  flx_request request = DefaultRequest("p", nullptr);
  const flx_kv overrides[] = {{"attention_slicing", "max"},
                              {"vae_tiling", "true"},
                              {"dtype", "float32"},
                              {"steps_factor", "0.5"},
                              {"min_steps", "1"}};
  request.overrides = overrides;
  request.n_overrides = 5;
  flx_result result;
  ErrorPtr error = Generate(*pipeline, request, &result);
  ASSERT_FALSE(error) << Describe(error.get());
  const std::map<std::string, std::string> expected = {{"attention_slicing", "max"},
                                                       {"vae_tiling", "true"},
                                                       {"dtype", "float32"},
                                                       {"steps_factor", "0.5"},
                                                       {"min_steps", "1"},
                                                       {"width", "64"},
                                                       {"height", "64"},
                                                       {"steps", "2"},
                                                       {"guidance", "0"}};
  EXPECT_EQ(result.params, expected);
}

TEST_F(TestPipelinePluginTest, MalformedFactorNamesTheParameter) {
  auto pipeline = Create("test");
  ASSERT_TRUE(pipeline);
  for (const char* key : {"steps_factor", "resolution_factor"}) {
    for (const char* value : {"0", "-0.5", "1.5", "half", "", "0.5x", "nan"}) {
      flx_request request = DefaultRequest("p", nullptr);
      const flx_kv overrides[] = {{key, value}};
      request.overrides = overrides;
      request.n_overrides = 1;
      flx_result result;
      ErrorPtr error = Generate(*pipeline, request, &result);
      ASSERT_TRUE(error) << key << "=\"" << value << "\" was accepted";
      EXPECT_EQ(error->code, FLX_INVALID_ARGUMENT) << Describe(error.get());
      EXPECT_EQ(error->details["param"], key) << Describe(error.get());
    }
  }
}

TEST_F(TestPipelinePluginTest, InjectedFailures) {
  struct Case {
    std::string name;
    std::map<std::string, std::string> config;
    uint32_t side;
    std::vector<flx_code> codes_per_try;  // FLX_OK = success
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"fail_code fails every try",
       {{"fail_code", "INTERNAL"}},
       0,
       {FLX_INTERNAL, FLX_INTERNAL, FLX_INTERNAL},
       "injected failure"},
      {"fail_first_n defaults to out of memory",
       {{"fail_first_n", "2"}},
       0,
       {FLX_RESOURCE_EXHAUSTED, FLX_RESOURCE_EXHAUSTED, FLX_OK},
       "out of memory (injected)"},
      {"fail_first_n with a code",
       {{"fail_first_n", "1"}, {"fail_code", "UNAVAILABLE"}},
       0,
       {FLX_UNAVAILABLE, FLX_OK, FLX_OK},
       "injected failure"},
      {"fail_above_pixels hits large images",
       {{"fail_above_pixels", "1024"}},
       64,
       {FLX_RESOURCE_EXHAUSTED, FLX_RESOURCE_EXHAUSTED},
       "out of memory (injected)"},
      {"fail_above_pixels spares small images",
       {{"fail_above_pixels", "1024"}},
       32,
       {FLX_OK, FLX_OK},
       ""},
      {"throw_std_exception becomes INTERNAL",
       {{"throw_std_exception", "true"}},
       0,
       {FLX_INTERNAL},
       "std::runtime_error"},
  };
  for (const Case& c : cases) {
    auto pipeline = Create("test", c.config);
    ASSERT_TRUE(pipeline) << c.name;
    for (size_t attempt = 0; attempt < c.codes_per_try.size(); ++attempt) {
      flx_request request = DefaultRequest("p", nullptr);
      request.width = request.height = c.side;
      flx_result result;
      ErrorPtr error = Generate(*pipeline, request, &result);
      const flx_code code = error ? error->code : FLX_OK;
      EXPECT_EQ(code, c.codes_per_try[attempt])
          << c.name << ", try " << attempt + 1 << ": " << Describe(error.get());
      if (error) {
        EXPECT_NE(error->message.find(c.message_part), std::string::npos)
            << c.name << ": " << error->message;
      }
    }
  }
}

TEST_F(TestPipelinePluginTest, PrepareHonoursItsKnobs) {
  auto healthy = Create("test", {{"prepare_delay_ms", "1"}});
  ASSERT_TRUE(healthy);
  EXPECT_FALSE(ErrorPtr(healthy->iface<flx_pipeline_iface>().prepare(healthy->self())));

  auto broken = Create("test", {{"prepare_fail", "true"}});
  ASSERT_TRUE(broken);
  ErrorPtr error(broken->iface<flx_pipeline_iface>().prepare(broken->self()));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, FLX_INTERNAL);
  EXPECT_NE(error->message.find("prepare_fail"), std::string::npos) << error->message;
}

// Holds one call inside generate() (a long delay, released by cancelling it) while a second
// call enters; returns the second call's error.
ErrorPtr OverlapTwoCalls(const Instance& pipeline, flx_result* second_result) {
  flx_call first_call;
  flx_request first = DefaultRequest("first", &first_call);
  first.steps = 1;
  ErrorPtr first_error;
  std::thread first_thread([&] {
    flx_result result;
    first_error.reset(
        pipeline.iface<flx_pipeline_iface>().generate(pipeline.self(), &first, &result));
  });
  EXPECT_TRUE(first_call.WaitForPolls(1, kPatience)) << "the first call never started waiting";

  flx_call second_call;
  second_call.cancelled = true;  // so a thread-safe pipeline returns at once
  flx_request second = DefaultRequest("second", &second_call);
  ErrorPtr second_error(
      pipeline.iface<flx_pipeline_iface>().generate(pipeline.self(), &second, second_result));

  first_call.cancelled = true;
  first_thread.join();
  EXPECT_EQ(first_error ? first_error->code : FLX_OK, FLX_CANCELLED)
      << "the held call ends when cancelled: " << Describe(first_error.get());
  return second_error;
}

TEST_F(TestPipelinePluginTest, SerialTypeRefusesConcurrentEntry) {
  auto pipeline = Create("test", {{"delay_ms", "600000"}});
  ASSERT_TRUE(pipeline);
  flx_result result;
  ErrorPtr error = OverlapTwoCalls(*pipeline, &result);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, FLX_INTERNAL);
  EXPECT_EQ(error->message, "pipeline entered concurrently");

  ErrorPtr describe_error;
  EXPECT_EQ(pipeline->Describe(&describe_error),
            R"({"type":"test","max_concurrent_seen":2,"calls":2,"prepares":0,"unloads":0})");
}

TEST_F(TestPipelinePluginTest, ThreadsafeTypeAllowsConcurrentEntry) {
  auto pipeline = Create("test_threadsafe", {{"delay_ms", "600000"}});
  ASSERT_TRUE(pipeline);
  flx_result result;
  ErrorPtr error = OverlapTwoCalls(*pipeline, &result);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, FLX_CANCELLED) << "the second call ran and saw its cancellation";

  ErrorPtr describe_error;
  EXPECT_EQ(pipeline->Describe(&describe_error),
            R"({"type":"test_threadsafe","max_concurrent_seen":2,"calls":2,"prepares":0,"unloads":0})");
}

TEST_F(TestPipelinePluginTest, BadConfigListsEveryProblemWithItsLocation) {
  ErrorPtr error = CreateError("test", {{"delay_ms", "-5"},
                                        {"fail_code", "BOGUS"},
                                        {"fail_above_pixels", "0"},
                                        {"throw_std_exception", "sometimes"},
                                        {"size_multiple", "0"}});
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, FLX_INVALID_ARGUMENT);
  for (const char* expected :
       {"fake.yaml:1:1: config: delay_ms must be >= 0, got -5",
        "fake.yaml:1:1: config: fail_code must be one of CANCELLED,",
        "fake.yaml:1:1: config: fail_above_pixels must be >= 1, got 0",
        "fake.yaml:1:1: config.throw_std_exception: expected true or false",
        "fake.yaml:1:1: config: size_multiple must be between 1 and 1024, got 0"}) {
    EXPECT_NE(error->message.find(expected), std::string::npos)
        << "missing \"" << expected << "\" in:\n"
        << error->message;
  }
}

}  // namespace
}  // namespace flx::testing
