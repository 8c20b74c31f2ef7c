// `fluxserve bench` command-line parsing (bench_options.h).
#include "bench_options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace flx::bench {
namespace {

TEST(BenchOptionsTest, DefaultsMatchTheIssueFigures) {
  std::string error;
  const auto options = parse_bench_options({"--model", "/m"}, &error);
  ASSERT_TRUE(options.has_value()) << error;
  EXPECT_EQ(options->model, "/m");
  EXPECT_EQ(options->width, 256);
  EXPECT_EQ(options->height, 256);
  EXPECT_EQ(options->steps, 2);
  EXPECT_EQ(options->runs, 3);
  EXPECT_EQ(options->warmup, 1);
  EXPECT_EQ(options->max_sequence_length, 256);
  EXPECT_EQ(options->roof_m, 2048);
  EXPECT_EQ(options->roof_k, 3072);
  EXPECT_EQ(options->roof_n, 3072);
  EXPECT_TRUE(options->buffer_pool);
  EXPECT_FALSE(options->json);
}

TEST(BenchOptionsTest, EveryFlagIsRead) {
  std::string error;
  const auto options = parse_bench_options(
      {"--model=/m", "--width", "512", "--height", "768", "--steps", "4", "--runs", "5",
       "--warmup", "0", "--device", "cpu", "--dtype", "bf16", "--threads", "1",
       "--max-sequence-length", "128", "--prompt", "a cat", "--seed", "9", "--attention-slicing",
       "max", "--roof", "64x32x16", "--roof-repeats", "2", "--buffer-pool", "off", "--json"},
      &error);
  ASSERT_TRUE(options.has_value()) << error;
  EXPECT_EQ(options->width, 512);
  EXPECT_EQ(options->height, 768);
  EXPECT_EQ(options->steps, 4);
  EXPECT_EQ(options->runs, 5);
  EXPECT_EQ(options->warmup, 0);
  EXPECT_EQ(options->device, "cpu");
  EXPECT_EQ(options->dtype, "bf16");
  EXPECT_EQ(options->threads, "1");
  EXPECT_EQ(options->max_sequence_length, 128);
  EXPECT_EQ(options->prompt, "a cat");
  EXPECT_EQ(options->seed, 9u);
  EXPECT_EQ(options->attention_slicing, "max");
  EXPECT_EQ(options->roof_m, 64);
  EXPECT_EQ(options->roof_k, 32);
  EXPECT_EQ(options->roof_n, 16);
  EXPECT_EQ(options->roof_repeats, 2);
  EXPECT_FALSE(options->buffer_pool);
  EXPECT_TRUE(options->json);
}

TEST(BenchOptionsTest, BadInputIsNamed) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "--model is required"},
           {{"--model", "/m", "--steps", "0"}, "--steps must be an integer from 1 to 1000, got \"0\""},
           {{"--model", "/m", "--width", "wide"},
            "--width must be an integer from 16 to 8192, got \"wide\""},
           {{"--model", "/m", "--roof", "2048x3072"},
            "--roof must be MxKxN with sides from 1 to 65536, got \"2048x3072\""},
           {{"--model", "/m", "--frobnicate", "1"}, "unknown option --frobnicate"},
           {{"--model", "/m", "--buffer-pool", "yes"}, "--buffer-pool must be on or off, got \"yes\""},
           {{"--model"}, "--model needs a value"},
           {{"--model", "/m", "extra"}, "unexpected argument \"extra\""},
       }) {
    std::string error;
    EXPECT_FALSE(parse_bench_options(c.args, &error).has_value());
    EXPECT_EQ(error, c.error);
  }
}

TEST(BenchOptionsTest, HelpNeedsNoModel) {
  std::string error;
  const auto options = parse_bench_options({"--help"}, &error);
  ASSERT_TRUE(options.has_value()) << error;
  EXPECT_TRUE(options->help);
}

}  // namespace
}  // namespace flx::bench
