// ReadLadderSettings on real config trees (the host's flx_config, built from YAML text), so
// the locations in its errors are the ones users see.
#include "ladder_config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <flx/plugin.hpp>
#include <memory>
#include <string>
#include <vector>

#include "config/config_node.h"
#include "host_api.h"
#include "ladder_settings.h"

namespace flx::recovery {
namespace {

class LadderConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { flx::host_api() = flx::HostApi(); }

  // Reads `yaml`, the text of a stage's `config:` map placed at line 1 of "oom.yaml".
  static LadderSettings Read(const std::string& yaml) {
    std::shared_ptr<ConfigTree> tree = MakeConfigTree(
        YAML::Load(yaml), SourceLocation{"oom.yaml", 1, 1}, "config", "oom.yaml", "oom");
    return ReadLadderSettings(flx::Config(ConfigTreeRoot(*tree)));
  }

  // The message of the error reading `yaml` throws ("" when it reads cleanly).
  static std::string ErrorReading(const std::string& yaml) {
    try {
      Read(yaml);
    } catch (const flx::Error& e) {
      EXPECT_EQ(e.code(), FLX_INVALID_ARGUMENT) << e.what();
      return e.what();
    }
    return "";
  }
};

// One line per knob that is set, so a mismatch shows which.
std::string Describe(const Rung& r) {
  std::string out;
  auto add = [&](const std::string& key, const std::string& value) {
    out += key + "=" + value + " ";
  };
  if (r.empty_cache) add("empty_cache", "true");
  if (r.attention_slicing) add("attention_slicing", *r.attention_slicing);
  if (r.vae_tiling) add("vae_tiling", *r.vae_tiling ? "true" : "false");
  if (r.vae_slicing) add("vae_slicing", *r.vae_slicing ? "true" : "false");
  if (r.offload) add("offload", *r.offload);
  if (r.dtype) add("dtype", *r.dtype);
  if (r.halve_steps) add("steps", "half");
  if (r.min_steps) add("min_steps", std::to_string(*r.min_steps));
  if (r.halve_resolution) add("resolution", "half");
  if (r.min_side) add("min_side", std::to_string(*r.min_side));
  if (r.delay_ms) add("delay_ms", std::to_string(*r.delay_ms));
  if (!r.reason.empty()) add("reason", r.reason);
  return out;
}

std::vector<std::string> Describe(const std::vector<Rung>& rungs) {
  std::vector<std::string> out;
  for (const Rung& r : rungs) out.push_back(Describe(r));
  return out;
}

TEST_F(LadderConfigTest, NoConfigGivesTheDefaults) {
  for (const char* yaml : {"", "~", "{}"}) {
    LadderSettings settings = Read(yaml);
    EXPECT_EQ(Describe(settings.rungs), Describe(DefaultLadder())) << "config: " << yaml;
    EXPECT_EQ(settings.max_attempts, DefaultLadder().size() + 1) << "every rung gets a try";
    EXPECT_EQ(settings.codes, std::vector<flx_code>{FLX_RESOURCE_EXHAUSTED});
    EXPECT_EQ(settings.delay_ms, 0u);
  }
  EXPECT_EQ(Describe(ReadLadderSettings(flx::Config()).rungs), Describe(DefaultLadder()));
}

TEST_F(LadderConfigTest, ReadsEveryKnob) {
  LadderSettings settings = Read(R"(
max_attempts: 6
codes: [RESOURCE_EXHAUSTED, UNAVAILABLE, RESOURCE_EXHAUSTED]
delay_ms: 25
ladder:
  - {empty_cache: true}
  - {attention_slicing: max}
  - {vae_tiling: true}
  - {vae_slicing: true}
  - {offload: model}
  - {dtype: float32, delay_ms: 0, reason: mps_fp16}
  - {steps: half, min_steps: 1}
  - {resolution: half, min_side: 256}
  - {vae_tiling: false, offload: sequential, attention_slicing: 4}
  - {delay_ms: 1000}
)");
  EXPECT_EQ(settings.max_attempts, 6u);
  EXPECT_EQ(settings.codes, (std::vector<flx_code>{FLX_RESOURCE_EXHAUSTED, FLX_UNAVAILABLE}));
  EXPECT_EQ(settings.delay_ms, 25u);
  EXPECT_EQ(Describe(settings.rungs),
            (std::vector<std::string>{
                "empty_cache=true ",
                "attention_slicing=max ",
                "vae_tiling=true ",
                "vae_slicing=true ",
                "offload=model ",
                "dtype=float32 delay_ms=0 reason=mps_fp16 ",
                "steps=half min_steps=1 ",
                "resolution=half min_side=256 ",
                "attention_slicing=4 vae_tiling=false offload=sequential ",
                "delay_ms=1000 ",
            }));
}

TEST_F(LadderConfigTest, SpellingsAreCanonical) {
  struct Case {
    std::string rung;
    std::string read_as;
  };
  const std::vector<Case> cases = {
      {"{dtype: fp32}", "dtype=float32 "},
      {"{dtype: fp16}", "dtype=float16 "},
      {"{dtype: bf16}", "dtype=bfloat16 "},
      {"{dtype: bfloat16}", "dtype=bfloat16 "},
      {"{attention_slicing: off}", "attention_slicing=off "},
      {"{attention_slicing: auto}", "attention_slicing=auto "},
      {"{attention_slicing: 08}", "attention_slicing=8 "},
      {"{vae_tiling: yes}", "vae_tiling=true "},
  };
  for (const Case& c : cases) {
    LadderSettings settings = Read("ladder: [" + c.rung + "]");
    ASSERT_EQ(settings.rungs.size(), 1u) << c.rung;
    EXPECT_EQ(Describe(settings.rungs[0]), c.read_as) << c.rung;
  }
}

TEST_F(LadderConfigTest, MaxAttemptsDefaultsToOneTryPerRung) {
  EXPECT_EQ(Read("ladder: [{empty_cache: true}]").max_attempts, 2u);
  EXPECT_EQ(Read("ladder: [{empty_cache: true}, {steps: half}, {dtype: fp32}]").max_attempts, 4u);
  EXPECT_EQ(Read("{max_attempts: 1, ladder: [{steps: half}]}").max_attempts, 1u);
}

// Line numbers matter: the expected messages point into this text.
constexpr const char* kBadConfig =
    "max_attempts: 0\n"                                               // 1
    "codes: [RESOURCE_EXHAUSTED, OUT_OF_MEMORY, OK]\n"                // 2
    "delay_ms: -1\n"                                                  // 3
    "retries: 3\n"                                                    // 4
    "ladder:\n"                                                       // 5
    "  - {empty_cache: false}\n"                                      // 6
    "  - {attention_slicing: huge, vae_tiling: maybe}\n"              // 7
    "  - {offload: cpu, dtype: float8}\n"                             // 8
    "  - {steps: third, min_steps: 0}\n"                              // 9
    "  - {min_side: 64}\n"                                            // 10
    "  - {sharpen: true, resolution: half, reason: \"two words\"}\n"  // 11
    "  - empty_cache\n"                                               // 12
    "  - [vae_tiling]\n"                                              // 13
    "  - {delay_ms: 600001, min_steps: 2}\n";                         // 14

TEST_F(LadderConfigTest, EveryProblemIsReportedWithItsLocation) {
  const std::string message = ErrorReading(kBadConfig);
  const std::vector<std::string> expected = {
      "oom.yaml:1:1: config: max_attempts must be between 1 and 100, got 0",
      "oom.yaml:2:29: config.codes[1]: expected a code name (CANCELLED, UNKNOWN,",
      ", got 'OUT_OF_MEMORY'",
      "oom.yaml:2:44: config.codes[2]: expected a code name (",
      ", got 'OK'",
      "oom.yaml:1:1: config: delay_ms must be between 0 and 600000, got -1",
      "oom.yaml:1:1: config: unknown key 'retries' (known: max_attempts, codes, delay_ms, "
      "ladder)",
      "oom.yaml:6:5: config.ladder[0]: empty_cache can only be true (leave it out otherwise)",
      "oom.yaml:7:5: config.ladder[1]: attention_slicing must be off, auto, max or a positive "
      "integer, got 'huge'",
      "oom.yaml:7:43: config.ladder[1].vae_tiling: expected a boolean",
      "oom.yaml:8:5: config.ladder[2]: offload must be one of none, model, sequential, got "
      "'cpu'",
      "oom.yaml:8:5: config.ladder[2]: dtype must be one of float32, float16, bfloat16 (or "
      "fp32, fp16, bf16), got 'float8'",
      "oom.yaml:9:5: config.ladder[3]: steps must be half, got 'third'",
      "oom.yaml:9:5: config.ladder[3]: min_steps must be between 1 and 1000, got 0",
      "oom.yaml:10:5: config.ladder[4]: min_side needs resolution: half in the same rung",
      "oom.yaml:11:5: config.ladder[5]: unknown knob 'sharpen' (knobs: empty_cache, "
      "attention_slicing, vae_tiling, vae_slicing, offload, dtype, steps, resolution; rung "
      "settings: min_steps, min_side, delay_ms, reason)",
      "oom.yaml:11:5: config.ladder[5]: reason must be 1 to 64 characters of [A-Za-z0-9_.:-], "
      "got 'two words'",
      "oom.yaml:12:5: config.ladder[6]: a rung must be a map of knobs such as "
      "{attention_slicing: max}, got 'empty_cache'",
      "oom.yaml:13:5: config.ladder[7]: a rung must be a map of knobs such as "
      "{attention_slicing: max}, got a sequence",
      "oom.yaml:14:5: config.ladder[8]: delay_ms must be between 0 and 600000, got 600001",
      "oom.yaml:14:5: config.ladder[8]: min_steps needs steps: half in the same rung",
  };
  for (const std::string& part : expected) {
    EXPECT_NE(message.find(part), std::string::npos) << "missing \"" << part << "\" in:\n"
                                                     << message;
  }
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n') + 1, 19) << "one line per problem:\n"
                                                                      << message;
}

TEST_F(LadderConfigTest, ShapesThatCannotBeALadder) {
  struct Case {
    std::string yaml;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"ladder: []",
       "oom.yaml:1:9: config.ladder: ladder must list at least one rung (leave it out for the "
       "default ladder)"},
      {"ladder: {empty_cache: true}",
       "oom.yaml:1:9: config.ladder: ladder must be a list of rungs, got a map"},
      {"ladder: empty_cache", "oom.yaml:1:9: config.ladder: expected a map or a sequence"},
      {"codes: []",
       "oom.yaml:1:8: config.codes: codes must list at least one code name, e.g. "
       "[RESOURCE_EXHAUSTED]"},
      {"codes: RESOURCE_EXHAUSTED", "oom.yaml:1:8: config.codes: expected a map or a sequence"},
      {"max_attempts: many", "oom.yaml:1:15: config.max_attempts: expected an integer"},
  };
  for (const Case& c : cases) {
    const std::string message = ErrorReading(c.yaml);
    EXPECT_NE(message.find(c.message), std::string::npos)
        << c.yaml << "\nwanted: " << c.message << "\ngot:    " << message;
  }
}

}  // namespace
}  // namespace flx::recovery
