#include <gtest/gtest.h>

#include "config/environment.h"

namespace flx {
namespace {

const Environment& TestEnv() {
  static const Environment env = Environment::FromMap(
      {{"MODEL", "models/schnell"}, {"EMPTY", ""}, {"PORT", "8080"}, {"DOLLAR", "$"}});
  return env;
}

TEST(InterpolateTest, Expands) {
  struct Case {
    const char* text;
    const char* expected;
  } cases[] = {
      {"", ""},
      {"plain text", "plain text"},
      {"${MODEL}", "models/schnell"},
      {"dir/${MODEL}/x", "dir/models/schnell/x"},
      {"${MODEL}${PORT}", "models/schnell8080"},
      {"${EMPTY}", ""},
      {"${UNSET:-fallback}", "fallback"},
      {"${EMPTY:-fallback}", "fallback"},
      {"${MODEL:-fallback}", "models/schnell"},
      {"${UNSET:-}", ""},
      {"${UNSET:-a b:c-d}", "a b:c-d"},
      {"${UNSET:-${PORT}}", "8080"},
      {"${UNSET:-${ALSO_UNSET:-deep}}", "deep"},
      {"${MODEL:-${NEVER_EVALUATED}}", "models/schnell"},
      {"$$", "$"},
      {"$${MODEL}", "${MODEL}"},
      {"cost $5", "cost $5"},
      {"$HOME", "$HOME"},
      {"trailing $", "trailing $"},
      {"${DOLLAR}{MODEL}", "${MODEL}"},
      {"a}b", "a}b"},
  };
  for (const Case& c : cases) {
    StatusOr<std::string> out = Interpolate(c.text, TestEnv());
    ASSERT_TRUE(out.ok()) << "'" << c.text << "': " << out.status().ToString();
    EXPECT_EQ(*out, c.expected) << "'" << c.text << "'";
  }
}

TEST(InterpolateTest, RejectsWithMessages) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"${UNSET}", "environment variable 'UNSET' is not set"},
      {"x ${MODEL} ${UNSET} y", "environment variable 'UNSET' is not set"},
      {"${UNSET:-${ALSO_UNSET}}", "environment variable 'ALSO_UNSET' is not set"},
      {"${MODEL", "unterminated '${' in '${MODEL'"},
      {"${UNSET:-abc", "unterminated '${' in '${UNSET:-abc'"},
      {"${", "unterminated '${' in '${'"},
      {"${}", "bad variable reference '${}': expected ${NAME} or ${NAME:-default}"},
      {"${1X}", "bad variable reference '${1X}': expected ${NAME} or ${NAME:-default}"},
      {"${A-B}", "bad variable reference '${A-B}': expected ${NAME} or ${NAME:-default}"},
      {"${MODEL:?no}",
       "bad variable reference '${MODEL:?no}': expected ${NAME} or ${NAME:-default}"},
  };
  for (const Case& c : cases) {
    StatusOr<std::string> out = Interpolate(c.text, TestEnv());
    ASSERT_FALSE(out.ok()) << "'" << c.text << "' gave '" << *out << "'";
    EXPECT_EQ(out.status().code(), FLX_INVALID_ARGUMENT) << c.text;
    EXPECT_EQ(out.status().message(), c.message) << c.text;
  }
}

}  // namespace
}  // namespace flx
