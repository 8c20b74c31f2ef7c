#include "config/suggest.h"

#include <gtest/gtest.h>

namespace flx {
namespace {

TEST(SuggestTest, ClosestMatch) {
  const std::vector<std::string> keys = {"version", "server",    "plugin_paths", "stages",
                                         "models",  "observers", "logging"};
  struct Case {
    const char* word;
    const char* expected;
  } cases[] = {
      {"stagse", "stages"},  // swapped letters
      {"stage", "stages"},   // missing letter
      {"Models", "models"},  // case
      {"servre", "server"},      {"plugin_path", "plugin_paths"},
      {"observer", "observers"}, {"logs", ""},  // too far for a short word
      {"completely_else", ""},
  };
  for (const Case& c : cases) EXPECT_EQ(ClosestMatch(c.word, keys), c.expected) << c.word;
}

TEST(SuggestTest, DidYouMeanIsReadyToAppend) {
  EXPECT_EQ(DidYouMean("pipline", {"scheduler", "pipeline"}), " (did you mean 'pipeline'?)");
  EXPECT_EQ(DidYouMean("zzz", {"scheduler", "pipeline"}), "");
  EXPECT_EQ(DidYouMean("x", {}), "");
}

}  // namespace
}  // namespace flx
