// LadderPolicy on its own: the overrides, reason codes and messages of each rung, cumulative
// factors, which failures it acts on and when it gives up.
#include "ladder_policy.h"

#include <flx/plugin.hpp>
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ladder_settings.h"

namespace flx::recovery {
namespace {

using Overrides = std::vector<std::pair<std::string, std::string>>;

const TryFailure kOutOfMemory{FLX_RESOURCE_EXHAUSTED, "CUDA out of memory"};

LadderSettings Ladder(std::vector<Rung> rungs, uint32_t max_attempts = 0) {
  LadderSettings settings;
  settings.max_attempts =
      max_attempts != 0 ? max_attempts : static_cast<uint32_t>(rungs.size() + 1);
  settings.rungs = std::move(rungs);
  return settings;
}

// The plan after the first try failed with out-of-memory, for a ladder of just `rung`.
RetryPlan FirstRetry(const Rung& rung, const std::map<std::string, std::string>& in_force = {}) {
  LadderPolicy policy(Ladder({rung}));
  std::optional<RetryPlan> plan = policy.Decide(kOutOfMemory, 1, in_force);
  EXPECT_TRUE(plan.has_value());
  return plan.value_or(RetryPlan{});
}

TEST(LadderPolicyTest, EachRungSendsItsOverrides) {
  struct Case {
    std::string name;
    Rung rung;
    std::string reason_code;
    Overrides overrides;
    std::string phrase;
  };
  auto rung = [](auto set) {
    Rung r;
    set(r);
    return r;
  };
  const std::vector<Case> cases = {
      {"empty_cache",
       rung([](Rung& r) { r.empty_cache = true; }),
       "empty_cache",
       {{"empty_cache", "true"}},
       "the device cache emptied"},
      {"attention_slicing max",
       rung([](Rung& r) { r.attention_slicing = "max"; }),
       "attention_slicing",
       {{"attention_slicing", "max"}},
       "attention slicing max"},
      {"attention_slicing N",
       rung([](Rung& r) { r.attention_slicing = "4"; }),
       "attention_slicing",
       {{"attention_slicing", "4"}},
       "attention slicing 4"},
      {"vae_tiling",
       rung([](Rung& r) { r.vae_tiling = true; }),
       "vae_tiling",
       {{"vae_tiling", "true"}},
       "VAE tiling on"},
      {"vae_slicing off",
       rung([](Rung& r) { r.vae_slicing = false; }),
       "vae_slicing",
       {{"vae_slicing", "false"}},
       "VAE slicing off"},
      {"offload model",
       rung([](Rung& r) { r.offload = "model"; }),
       "offload",
       {{"offload", "model"}},
       "model offload"},
      {"offload sequential",
       rung([](Rung& r) { r.offload = "sequential"; }),
       "offload",
       {{"offload", "sequential"}},
       "sequential offload"},
      {"offload none",
       rung([](Rung& r) { r.offload = "none"; }),
       "offload",
       {{"offload", "none"}},
       "no offload"},
      {"dtype",
       rung([](Rung& r) { r.dtype = "float32"; }),
       "dtype",
       {{"dtype", "float32"}},
       "dtype float32"},
      {"steps halved",
       rung([](Rung& r) { r.halve_steps = true; }),
       "steps_halved",
       {{"steps_factor", "0.5"}},
       "half the steps (steps_factor 0.5)"},
      {"steps halved with a floor",
       rung([](Rung& r) {
         r.halve_steps = true;
         r.min_steps = 2;
       }),
       "steps_halved",
       {{"steps_factor", "0.5"}, {"min_steps", "2"}},
       "half the steps (steps_factor 0.5, at least 2)"},
      {"resolution halved with a floor",
       rung([](Rung& r) {
         r.halve_resolution = true;
         r.min_side = 256;
       }),
       "resolution_halved",
       {{"resolution_factor", "0.5"}, {"min_side", "256"}},
       "half the resolution (resolution_factor 0.5, sides at least 256)"},
      {"several knobs in one rung",
       rung([](Rung& r) {
         r.vae_tiling = true;
         r.vae_slicing = true;
       }),
       "vae_tiling+vae_slicing",
       {{"vae_tiling", "true"}, {"vae_slicing", "true"}},
       "VAE tiling on, VAE slicing on"},
      {"a custom reason",
       rung([](Rung& r) {
         r.dtype = "float32";
         r.reason = "mps_fp16";
       }),
       "mps_fp16",
       {{"dtype", "float32"}},
       "dtype float32"},
      {"no knobs is a plain retry", Rung{}, "retry", {}, "the same settings"},
  };
  for (const Case& c : cases) {
    RetryPlan plan = FirstRetry(c.rung);
    EXPECT_EQ(plan.reason_code, c.reason_code) << c.name;
    EXPECT_EQ(plan.overrides, c.overrides) << c.name;
    EXPECT_EQ(plan.message,
              "out of memory (CUDA out of memory): retrying with " + c.phrase + " (rung 1 of 1)")
        << c.name;
  }
}

TEST(LadderPolicyTest, HalvingMultipliesTheFactorInForce) {
  Rung steps;
  steps.halve_steps = true;
  Rung resolution;
  resolution.halve_resolution = true;
  struct Case {
    const Rung& rung;
    std::map<std::string, std::string> in_force;
    std::pair<std::string, std::string> sent;
  };
  const std::vector<Case> cases = {
      {steps, {{"steps_factor", "0.5"}}, {"steps_factor", "0.25"}},
      {steps, {{"steps_factor", "0.25"}, {"resolution_factor", "0.5"}}, {"steps_factor", "0.125"}},
      {steps, {{"steps_factor", "1"}}, {"steps_factor", "0.5"}},
      {resolution, {{"resolution_factor", "0.3"}}, {"resolution_factor", "0.15"}},
      {resolution, {{"steps_factor", "0.5"}}, {"resolution_factor", "0.5"}},
  };
  for (const Case& c : cases) {
    RetryPlan plan = FirstRetry(c.rung, c.in_force);
    ASSERT_FALSE(plan.overrides.empty());
    EXPECT_EQ(plan.overrides.front(), c.sent) << "in force: " << c.in_force.begin()->second;
  }
}

TEST(LadderPolicyTest, ALadderWalkAccumulatesFactors) {
  std::vector<Rung> rungs(4);
  rungs[0].halve_steps = true;
  rungs[1].halve_resolution = true;
  rungs[2].halve_steps = true;
  rungs[3].halve_steps = true;
  LadderPolicy policy(Ladder(rungs));
  std::map<std::string, std::string> in_force;
  std::vector<std::string> steps_factors;
  for (uint32_t attempt = 1; attempt <= 4; ++attempt) {
    std::optional<RetryPlan> plan = policy.Decide(kOutOfMemory, attempt, in_force);
    ASSERT_TRUE(plan) << "attempt " << attempt;
    for (const auto& [key, value] : plan->overrides) in_force[key] = value;
    steps_factors.push_back(in_force["steps_factor"]);
  }
  EXPECT_EQ(steps_factors, (std::vector<std::string>{"0.5", "0.5", "0.25", "0.125"}));
  EXPECT_EQ(in_force["resolution_factor"], "0.5");
}

TEST(LadderPolicyTest, AMalformedFactorInForceIsAPolicyError) {
  Rung steps;
  steps.halve_steps = true;
  LadderPolicy policy(Ladder({steps}));
  for (const char* value : {"abc", "0", "1.5", "", "0.5x", "-0.5"}) {
    try {
      policy.Decide(kOutOfMemory, 1, {{"steps_factor", value}});
      ADD_FAILURE() << "steps_factor \"" << value << "\" was accepted";
    } catch (const std::logic_error& e) {
      EXPECT_NE(std::string(e.what()).find("steps_factor"), std::string::npos) << e.what();
    }
  }
}

TEST(LadderPolicyTest, ActsOnlyOnConfiguredCodes) {
  Rung rung;
  rung.empty_cache = true;
  struct Case {
    std::vector<flx_code> codes;
    flx_code failure;
    bool retries;
  };
  const std::vector<Case> cases = {
      {{FLX_RESOURCE_EXHAUSTED}, FLX_RESOURCE_EXHAUSTED, true},
      {{FLX_RESOURCE_EXHAUSTED}, FLX_INTERNAL, false},
      {{FLX_RESOURCE_EXHAUSTED}, FLX_INVALID_ARGUMENT, false},
      {{FLX_RESOURCE_EXHAUSTED}, FLX_CANCELLED, false},
      {{FLX_UNAVAILABLE}, FLX_RESOURCE_EXHAUSTED, false},
      {{FLX_UNAVAILABLE, FLX_RESOURCE_EXHAUSTED}, FLX_UNAVAILABLE, true},
      {{FLX_UNAVAILABLE, FLX_RESOURCE_EXHAUSTED}, FLX_RESOURCE_EXHAUSTED, true},
  };
  for (const Case& c : cases) {
    LadderSettings settings = Ladder({rung});
    settings.codes = c.codes;
    LadderPolicy policy(settings);
    EXPECT_EQ(policy.Decide({c.failure, "boom"}, 1, {}).has_value(), c.retries)
        << "failure code " << c.failure << ", " << c.codes.size() << " codes handled";
  }
}

TEST(LadderPolicyTest, RungsFollowTheTryNumberUntilMaxAttemptsOrTheEnd) {
  std::vector<Rung> rungs(4);
  rungs[0].empty_cache = true;
  rungs[1].attention_slicing = "max";
  rungs[2].vae_tiling = true;
  rungs[3].offload = "model";
  struct Case {
    uint32_t max_attempts;
    std::vector<std::string> codes_per_attempt;  // "" = gives up; attempts 0..6
  };
  const std::vector<Case> cases = {
      {5, {"", "empty_cache", "attention_slicing", "vae_tiling", "offload", "", ""}},
      {3, {"", "empty_cache", "attention_slicing", "", "", "", ""}},
      {1, {"", "", "", "", "", "", ""}},
      {100, {"", "empty_cache", "attention_slicing", "vae_tiling", "offload", "", ""}},
  };
  for (const Case& c : cases) {
    LadderPolicy policy(Ladder(rungs, c.max_attempts));
    for (uint32_t attempt = 0; attempt < c.codes_per_attempt.size(); ++attempt) {
      std::optional<RetryPlan> plan = policy.Decide(kOutOfMemory, attempt, {});
      EXPECT_EQ(plan ? plan->reason_code : "", c.codes_per_attempt[attempt])
          << "max_attempts " << c.max_attempts << ", attempt " << attempt;
    }
  }
}

TEST(LadderPolicyTest, MessageCountsTheRungsARequestCanReach) {
  std::vector<Rung> rungs(4);
  for (Rung& r : rungs) r.empty_cache = true;
  struct Case {
    uint32_t max_attempts;
    size_t reachable;
  };
  for (const Case& c : std::vector<Case>{{5, 4}, {3, 2}, {1, 0}, {50, 4}}) {
    LadderPolicy policy(Ladder(rungs, c.max_attempts));
    EXPECT_EQ(policy.reachable_rungs(), c.reachable) << "max_attempts " << c.max_attempts;
    if (c.reachable == 0) continue;
    std::optional<RetryPlan> plan = policy.Decide(kOutOfMemory, 1, {});
    ASSERT_TRUE(plan);
    const std::string suffix = "(rung 1 of " + std::to_string(c.reachable) + ")";
    EXPECT_EQ(plan->message.substr(plan->message.size() - suffix.size()), suffix) << plan->message;
  }
}

TEST(LadderPolicyTest, MessageSaysWhatFailed) {
  Rung rung;
  rung.attention_slicing = "max";
  struct Case {
    flx_code code;
    const char* failure;
    std::string starts;
  };
  const std::vector<Case> cases = {
      {FLX_RESOURCE_EXHAUSTED, "MPS backend out of memory",
       "out of memory (MPS backend out of memory): retrying"},
      {FLX_RESOURCE_EXHAUSTED, "out of memory (injected)", "out of memory (injected): retrying"},
      {FLX_RESOURCE_EXHAUSTED, "", "out of memory: retrying"},
      {FLX_UNAVAILABLE, "device lost", "UNAVAILABLE (device lost): retrying"},
  };
  for (const Case& c : cases) {
    LadderSettings settings = Ladder({rung});
    settings.codes = {FLX_RESOURCE_EXHAUSTED, FLX_UNAVAILABLE};
    std::optional<RetryPlan> plan = LadderPolicy(settings).Decide({c.code, c.failure}, 1, {});
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->message.substr(0, c.starts.size()), c.starts) << plan->message;
  }
}

TEST(LadderPolicyTest, RungDelayReplacesTheStageDelay) {
  std::vector<Rung> rungs(3);
  for (Rung& r : rungs) r.empty_cache = true;
  rungs[1].delay_ms = 0;
  rungs[2].delay_ms = 750;
  LadderSettings settings = Ladder(rungs);
  settings.delay_ms = 40;
  LadderPolicy policy(settings);
  std::vector<uint32_t> delays;
  for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
    delays.push_back(policy.Decide(kOutOfMemory, attempt, {}).value_or(RetryPlan{}).delay_ms);
  }
  EXPECT_EQ(delays, (std::vector<uint32_t>{40, 0, 750}));
}

TEST(LadderPolicyTest, DefaultLadderGoesFromCheapToCostly) {
  LadderPolicy policy(Ladder(DefaultLadder()));
  std::vector<std::string> codes;
  std::map<std::string, std::string> in_force;
  for (uint32_t attempt = 1;; ++attempt) {
    std::optional<RetryPlan> plan = policy.Decide(kOutOfMemory, attempt, in_force);
    if (!plan) break;
    codes.push_back(plan->reason_code);
    for (const auto& [key, value] : plan->overrides) in_force[key] = value;
  }
  EXPECT_EQ(codes, (std::vector<std::string>{"empty_cache", "attention_slicing", "vae_tiling",
                                             "offload", "steps_halved", "resolution_halved"}));
  const std::map<std::string, std::string> expected = {
      {"empty_cache", "true"}, {"attention_slicing", "max"}, {"vae_tiling", "true"},
      {"offload", "model"},    {"steps_factor", "0.5"},      {"resolution_factor", "0.5"}};
  EXPECT_EQ(in_force, expected);
}

}  // namespace
}  // namespace flx::recovery
