// Each broken plugin breaks one ABI rule; the loader must refuse it with an error that says
// which file and which rule, and the host must keep working afterwards.
#include <gtest/gtest.h>

#include <string>

#include "config/graph_config.h"
#include "error.h"
#include "generation_service.h"
#include "plugin_loader.h"
#include "stage_graph.h"

extern "C" int flx_c99_header_check(void);

namespace flx {
namespace {

const std::string kDir = FLX_BROKEN_PLUGIN_DIR;

struct LoadCase {
  const char* library;
  flx_code code;
  const char* must_mention;
};

class BrokenPluginTest : public ::testing::TestWithParam<LoadCase> {};

TEST_P(BrokenPluginTest, RefusedWithAClearError) {
  const LoadCase& c = GetParam();
  PluginLoader loader({kDir});
  auto lib = loader.Load(c.library);
  ASSERT_FALSE(lib.ok()) << c.library << " loaded but should not have";
  EXPECT_EQ(lib.status().code(), c.code) << lib.status().ToString();
  EXPECT_NE(lib.status().message().find(c.must_mention), std::string::npos)
      << "message: " << lib.status().message() << "\nexpected to mention: " << c.must_mention;
  if (c.code != FLX_NOT_FOUND) {
    EXPECT_NE(lib.status().message().find(c.library), std::string::npos)
        << "the error must name the file: " << lib.status().message();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rules, BrokenPluginTest,
    ::testing::Values(
        LoadCase{"no_such_plugin", FLX_NOT_FOUND, "not found; tried:"},
        LoadCase{"broken_missing_symbol", FLX_FAILED_PRECONDITION,
                 "not a fluxserve plugin: it does not export flx_plugin_init"},
        LoadCase{"broken_undefined_symbol", FLX_FAILED_PRECONDITION,
                 "flx_test_symbol_that_does_not_exist"},
        LoadCase{"broken_wrong_major", FLX_FAILED_PRECONDITION, "majors must match"},
        LoadCase{"broken_newer_minor", FLX_FAILED_PRECONDITION, "newer than this host"},
        LoadCase{"broken_short_struct", FLX_FAILED_PRECONDITION, "struct_size"},
        LoadCase{"broken_failing_init", FLX_FAILED_PRECONDITION,
                 "flx_plugin_init failed: the frobnicator runtime is not installed"},
        LoadCase{"broken_bad_settings", FLX_FAILED_PRECONDITION,
                 "factory #0 ('broken'): setting #1 ('dtype'): variable 'BROKEN_DEVICE' "
                 "repeated"}),
    [](const ::testing::TestParamInfo<LoadCase>& info) {
      return std::string(info.param.library);
    });

TEST(PluginLoaderTest, SharesOneLoadPerFile) {
  PluginLoader loader({kDir});
  auto a = loader.Load("broken_throwing");
  auto b = loader.Load(kDir + "/broken_throwing.so");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(a->get(), b->get());
}

TEST(PluginLoaderTest, UnknownTypeListsWhatIsOffered) {
  PluginLoader loader({kDir});
  auto lib = loader.Load("broken_throwing");
  ASSERT_TRUE(lib.ok()) << lib.status().ToString();
  auto f = (*lib)->FindFactory(FLX_KIND_PIPELINE, "nope");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), FLX_NOT_FOUND);
  EXPECT_NE(f.status().message().find("offers: throws, throws_int"), std::string::npos)
      << f.status().message();
  auto sched = (*lib)->FindFactory(FLX_KIND_SCHEDULER, "throws");
  ASSERT_FALSE(sched.ok());
  EXPECT_NE(sched.status().message().find("offers no scheduler types"), std::string::npos)
      << sched.status().message();
}

TEST(HeaderTest, CompilesAsC99WithPinnedLayout) { EXPECT_EQ(flx_c99_header_check(), FLX_ABI_MAJOR); }

// Builds a one-pipeline graph from YAML text naming a stage of `library`/`type`.
StatusOr<std::unique_ptr<StageGraph>> BuildGraph(const std::string& library,
                                                 const std::string& type,
                                                 const std::string& config, Diagnostics* diags) {
  std::string yaml = "version: 1\n"
                     "plugin_paths: [\"" + kDir + "\"]\n"
                     "stages:\n"
                     "  - id: p\n"
                     "    kind: pipeline\n"
                     "    library: " + library + "\n"
                     "    type: " + type + "\n"
                     "    config: " + config + "\n"
                     "models:\n"
                     "  m: [p]\n";
  auto parsed = ParseGraphConfig(yaml, "graph.yaml", Environment(), diags);
  if (!parsed.ok()) return parsed.status();
  return StageGraph::Build(*parsed, /*dry_run=*/false, diags);
}

TEST(StageCreateTest, FailingCreateIsReportedAtTheStage) {
  Diagnostics diags;
  auto graph = BuildGraph("broken_failing_create", "broken", "{model: x}", &diags);
  ASSERT_FALSE(graph.ok());
  std::string text = diags.ToString();
  EXPECT_NE(text.find("graph.yaml:4:"), std::string::npos) << text;
  EXPECT_NE(text.find("create failed"), std::string::npos) << text;
  EXPECT_NE(text.find("weights file 'nowhere.safetensors' does not exist"), std::string::npos)
      << text;
  // The plugin located its complaint at its own config node.
  EXPECT_NE(text.find("graph.yaml:8:"), std::string::npos) << text;
}

TEST(StageCreateTest, ThrowingCreateBecomesAnError) {
  Diagnostics diags;
  auto graph = BuildGraph("broken_throwing", "throws", "{throw_on_create: true}", &diags);
  ASSERT_FALSE(graph.ok());
  EXPECT_NE(diags.ToString().find("INTERNAL: create threw as configured"), std::string::npos)
      << diags.ToString();
}

TEST(StageCallbackTest, ThrowingGenerateBecomesAnErrorAndTheHostGoesOn) {
  for (const char* type : {"throws", "throws_int"}) {
    Diagnostics diags;
    auto graph = BuildGraph("broken_throwing", type, "{}", &diags);
    ASSERT_TRUE(graph.ok()) << diags.ToString();
    (*graph)->StartPrepare();
    (*graph)->WaitPrepared();
    GenerationService service(graph->get());
    for (int i = 0; i < 2; ++i) {
      flx_call call;
      call.request_id = "req-" + std::to_string(i);
      call.model = "m";
      GenerationInput input;
      input.prompt = "x";
      auto [out, err] = service.Run((*graph)->models().front(), input, &call);
      ASSERT_FALSE(out.has_value());
      ASSERT_TRUE(err.has_value());
      EXPECT_EQ(err->status.code(), FLX_INTERNAL) << type;
      EXPECT_NE(err->status.message().find(std::string(type) == "throws"
                                               ? "generate threw a std::runtime_error"
                                               : "unknown exception in plugin"),
                std::string::npos)
          << err->status.message();
    }
  }
}

}  // namespace
}  // namespace flx
