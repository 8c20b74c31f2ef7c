#include <gtest/gtest.h>

#include <flx/knobs.hpp>
#include <map>
#include <string>

namespace {

using Overrides = std::map<std::string, std::string>;

TEST(KnobsTest, ParsesEveryKnobOfTheVocabularyAndKeepsWhatWasGiven) {
  const Overrides given = {{FLX_KNOB_STEPS, "12"},
                           {FLX_KNOB_WIDTH, "512"},
                           {FLX_KNOB_HEIGHT, "256"},
                           {FLX_KNOB_STEPS_FACTOR, "0.25"},
                           {FLX_KNOB_MIN_STEPS, "2"},
                           {FLX_KNOB_RESOLUTION_FACTOR, "0.5"},
                           {FLX_KNOB_MIN_SIDE, "128"},
                           {FLX_KNOB_EMPTY_CACHE, "true"},
                           {FLX_KNOB_ATTENTION_SLICING, "max"},
                           {FLX_KNOB_VAE_TILING, "false"},
                           {FLX_KNOB_VAE_SLICING, "true"},
                           {FLX_KNOB_OFFLOAD, "model"},
                           {FLX_KNOB_DTYPE, "bfloat16"},
                           {"some_other_stage_key", "x"}};
  const flx::Knobs knobs = flx::Knobs::parse(given);
  EXPECT_EQ(knobs.steps, 12);
  EXPECT_EQ(knobs.width, 512);
  EXPECT_EQ(knobs.height, 256);
  EXPECT_EQ(knobs.steps_factor, 0.25);
  EXPECT_EQ(knobs.min_steps, 2);
  EXPECT_EQ(knobs.resolution_factor, 0.5);
  EXPECT_EQ(knobs.min_side, 128);
  EXPECT_EQ(knobs.empty_cache, true);
  EXPECT_EQ(knobs.attention_slicing, "max");
  EXPECT_EQ(knobs.vae_tiling, false);
  EXPECT_EQ(knobs.vae_slicing, true);
  EXPECT_EQ(knobs.offload, "model");
  EXPECT_EQ(knobs.dtype, "bfloat16");
  Overrides expected = given;
  expected.erase("some_other_stage_key");
  EXPECT_EQ(knobs.given, expected) << "keys outside the vocabulary are not knobs";

  const flx::Knobs none = flx::Knobs::parse(Overrides{});
  EXPECT_FALSE(none.steps || none.vae_tiling || none.dtype);
  EXPECT_TRUE(none.given.empty());
}

TEST(KnobsTest, AMalformedValueIsInvalidArgumentNamingTheKey) {
  struct Case {
    const char* key;
    const char* value;
    const char* must;
  };
  for (const Case& c : {Case{FLX_KNOB_STEPS, "0", "a decimal integer >= 1"},
                        Case{FLX_KNOB_WIDTH, "-64", "a decimal integer >= 1"},
                        Case{FLX_KNOB_HEIGHT, "1e3", "a decimal integer >= 1"},
                        Case{FLX_KNOB_MIN_SIDE, "1234567890", "a decimal integer >= 1"},
                        Case{FLX_KNOB_STEPS_FACTOR, "0", "a decimal in (0, 1]"},
                        Case{FLX_KNOB_STEPS_FACTOR, "1.5", "a decimal in (0, 1]"},
                        Case{FLX_KNOB_RESOLUTION_FACTOR, "0.5x", "a decimal in (0, 1]"},
                        Case{FLX_KNOB_RESOLUTION_FACTOR, "nan", "a decimal in (0, 1]"},
                        Case{FLX_KNOB_VAE_TILING, "yes", "true or false"},
                        Case{FLX_KNOB_EMPTY_CACHE, "", "true or false"}}) {
    try {
      flx::Knobs::parse(Overrides{{c.key, c.value}});
      ADD_FAILURE() << c.key << "=" << c.value << " was accepted";
    } catch (const flx::Error& e) {
      EXPECT_EQ(e.code(), FLX_INVALID_ARGUMENT);
      EXPECT_EQ(std::string(e.what()), std::string("override ") + c.key + " must be " + c.must +
                                           ", got \"" + c.value + "\"");
      ASSERT_EQ(e.details().size(), 1u);
      EXPECT_EQ(e.details()[0], (std::pair<std::string, std::string>{"param", c.key}));
    }
  }
}

TEST(KnobsTest, ScalingFollowsTheDocumentedRules) {
  // steps = min(steps, max(min_steps or 1, round(steps * factor)))
  EXPECT_EQ(flx::scale_steps(28, 0.5, 1), 14);
  EXPECT_EQ(flx::scale_steps(28, 0.125, 1), 4);  // 3.5 rounds away from zero
  EXPECT_EQ(flx::scale_steps(4, 0.125, 1), 1);
  EXPECT_EQ(flx::scale_steps(28, 0.125, 8), 8);
  EXPECT_EQ(flx::scale_steps(3, 0.5, 8), 3) << "never raises a count below the bound";
  // side = min(side, max(lower, floor(side * factor / m) * m)), lower = min_side up to m
  EXPECT_EQ(flx::scale_side(1024, 0.5, 0, 16), 512);
  EXPECT_EQ(flx::scale_side(1000, 0.5, 0, 16), 496);
  EXPECT_EQ(flx::scale_side(1024, 0.01, 0, 16), 16);
  EXPECT_EQ(flx::scale_side(1024, 0.25, 300, 16), 304);
  EXPECT_EQ(flx::scale_side(128, 0.5, 300, 16), 128) << "never raises a side below the bound";

  flx::Knobs knobs;
  EXPECT_EQ(knobs.scaled_steps(28), 28) << "no factor, no change";
  EXPECT_EQ(knobs.scaled_side(1000, 16), 1000) << "not even rounding to the multiple";
  knobs = flx::Knobs::parse(Overrides{{FLX_KNOB_STEPS_FACTOR, "0.25"},
                                      {FLX_KNOB_MIN_STEPS, "4"},
                                      {FLX_KNOB_RESOLUTION_FACTOR, "0.5"}});
  EXPECT_EQ(knobs.scaled_steps(28), 7);
  EXPECT_EQ(knobs.scaled_steps(8), 4);
  EXPECT_EQ(knobs.scaled_side(1024, 16), 512);
}

TEST(KnobsTest, SpellingsAPolicyWritesReadBackExactly) {
  EXPECT_STREQ(flx::knob_bool(true), FLX_KNOB_TRUE);
  EXPECT_STREQ(flx::knob_bool(false), FLX_KNOB_FALSE);
  double factor = 1.0;
  for (int halving = 0; halving < 30; ++halving) {
    factor /= 2;
    const std::string text = flx::knob_factor(factor);
    const flx::Knobs knobs = flx::Knobs::parse(Overrides{{FLX_KNOB_STEPS_FACTOR, text}});
    EXPECT_EQ(knobs.steps_factor, factor) << text;
  }
  EXPECT_EQ(flx::knob_factor(0.5), "0.5");
  EXPECT_EQ(flx::knob_factor(0.125), "0.125");
}

TEST(VocabularyTest, NamesAreTheSpellingsOnTheWire) {
  // Renaming one breaks every plugin built against an earlier 1.x SDK: pinned here.
  EXPECT_STREQ(FLX_PHASE_TOKENIZE, "tokenize");
  EXPECT_STREQ(FLX_PHASE_TEXT_ENCODE, "text_encode");
  EXPECT_STREQ(FLX_PHASE_DENOISE, "denoise");
  EXPECT_STREQ(FLX_PHASE_VAE_DECODE, "vae_decode");
  EXPECT_STREQ(FLX_PHASE_IMAGE_ENCODE, "image_encode");
  EXPECT_STREQ(FLX_PHASE_SAVE, "save");
  EXPECT_STREQ(FLX_PHASE_LOAD, "load");
  EXPECT_STREQ(FLX_GAUGE_QUEUE_DEPTH, "queue_depth");
  EXPECT_STREQ(FLX_GAUGE_IN_FLIGHT, "in_flight");
  EXPECT_STREQ(FLX_GAUGE_MODEL_READY, "model_ready");
  EXPECT_STREQ(FLX_GAUGE_WEIGHTS_BYTES, "weights_bytes");
  EXPECT_STREQ(FLX_KNOB_ATTENTION_SLICING, "attention_slicing");
  EXPECT_STREQ(FLX_KNOB_STEPS_FACTOR, "steps_factor");
  EXPECT_STREQ(FLX_KNOB_RESOLUTION_FACTOR, "resolution_factor");
}

}  // namespace
