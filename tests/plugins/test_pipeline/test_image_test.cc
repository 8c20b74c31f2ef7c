#include "test_image.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace flx::test_pipeline {
namespace {

TEST(Fnv1aTest, MatchesPublishedVectors) {
  // From the FNV reference test suite (64-bit FNV-1a).
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ull);
}

TEST(Fnv1aTest, ContinuesAcrossCalls) {
  EXPECT_EQ(Fnv1a64("bar", Fnv1a64("foo")), Fnv1a64("foobar"));
}

TEST(RenderTestImageTest, EqualInputsGiveIdenticalPixels) {
  EXPECT_EQ(RenderTestImage("a red fox", 42, 64, 48), RenderTestImage("a red fox", 42, 64, 48));
}

TEST(RenderTestImageTest, HasTheRequestedSize) {
  struct Size {
    uint32_t width, height;
  };
  for (Size size : {Size{1, 1}, Size{64, 64}, Size{17, 3}, Size{3, 17}}) {
    EXPECT_EQ(RenderTestImage("p", 1, size.width, size.height).size(),
              size_t{size.width} * size.height * 3)
        << size.width << "x" << size.height;
  }
}

TEST(RenderTestImageTest, SeedsAndPromptsChangeThePicture) {
  std::set<std::vector<uint8_t>> distinct;
  const std::vector<std::string> prompts = {"", "a red fox", "a red fox ", "a blue fox"};
  for (const std::string& prompt : prompts) {
    for (uint64_t seed = 0; seed < 16; ++seed) {
      distinct.insert(RenderTestImage(prompt, seed, 32, 32));
    }
  }
  EXPECT_EQ(distinct.size(), prompts.size() * 16) << "two (prompt, seed) pairs drew the same";
}

}  // namespace
}  // namespace flx::test_pipeline
