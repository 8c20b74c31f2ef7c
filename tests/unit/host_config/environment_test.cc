#include "config/environment.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "support/temp_dir.h"

namespace flx {
namespace {

TEST(EnvironmentTest, FromProcessSnapshotsEnviron) {
  ASSERT_EQ(setenv("FLX_CONFIG_TEST_SNAPSHOT", "a=b", 1), 0);
  Environment env = Environment::FromProcess();
  unsetenv("FLX_CONFIG_TEST_SNAPSHOT");
  EXPECT_EQ(env.Get("FLX_CONFIG_TEST_SNAPSHOT"), "a=b");
  EXPECT_FALSE(Environment::FromProcess().Get("FLX_CONFIG_TEST_SNAPSHOT").has_value());
}

TEST(EnvironmentTest, GetDistinguishesUnsetFromEmpty) {
  Environment env = Environment::FromMap({{"EMPTY", ""}, {"SET", "v"}});
  EXPECT_EQ(env.Get("EMPTY"), "");
  EXPECT_EQ(env.Get("SET"), "v");
  EXPECT_FALSE(env.Get("UNSET").has_value());
}

TEST(DotEnvTest, ParsesEveryLineForm) {
  test::TempDir dir;
  std::string path = dir.write(".env",
                               "# a comment\n"
                               "\n"
                               "PLAIN=value\n"
                               "  SPACED = spaced value  \n"
                               "export EXPORTED=yes\n"
                               "SINGLE='raw $X \\n # kept'\n"
                               "DOUBLE=\"tab\\there\\nline \\\"q\\\" \\\\ \\$\"\n"
                               "INLINE=value # comment\n"
                               "HASH=a#b\n"
                               "QUOTED_COMMENT='v' # after\n"
                               "EMPTY=\n"
                               "CRLF=win\r\n"
                               "TWICE=first\n"
                               "TWICE=second\n");
  Environment env;
  Status status = env.LoadDotEnv(path, /*required=*/true);
  ASSERT_TRUE(status.ok()) << status.ToString();
  struct Case {
    const char* name;
    const char* value;
  } cases[] = {
      {"PLAIN", "value"},
      {"SPACED", "spaced value"},
      {"EXPORTED", "yes"},
      {"SINGLE", "raw $X \\n # kept"},
      {"DOUBLE", "tab\there\nline \"q\" \\ $"},
      {"INLINE", "value"},
      {"HASH", "a#b"},
      {"QUOTED_COMMENT", "v"},
      {"EMPTY", ""},
      {"CRLF", "win"},
      {"TWICE", "second"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(env.Get(c.name), std::optional<std::string>(c.value)) << c.name;
  }
}

TEST(DotEnvTest, RealEnvironmentWins) {
  test::TempDir dir;
  std::string path = dir.write(".env", "MODEL=from-file\nOTHER=from-file\n");
  Environment env = Environment::FromMap({{"MODEL", "from-env"}});
  ASSERT_TRUE(env.LoadDotEnv(path, true).ok());
  EXPECT_EQ(env.Get("MODEL"), "from-env");
  EXPECT_EQ(env.Get("OTHER"), "from-file");
}

TEST(DotEnvTest, MissingFileIsOkUnlessRequired) {
  test::TempDir dir;
  const std::string path = dir.path() + "/absent.env";
  Environment env;
  EXPECT_TRUE(env.LoadDotEnv(path, /*required=*/false).ok());
  Status status = env.LoadDotEnv(path, /*required=*/true);
  EXPECT_EQ(status.code(), FLX_NOT_FOUND);
  EXPECT_NE(status.message().find(path), std::string::npos) << status.message();
}

TEST(DotEnvTest, DirectoryIsAnErrorEvenWhenOptional) {
  test::TempDir dir;
  Environment env;
  Status status = env.LoadDotEnv(dir.path(), /*required=*/false);
  EXPECT_EQ(status.code(), FLX_INVALID_ARGUMENT);
  EXPECT_EQ(status.message(), dir.path() + ": cannot open .env file: Is a directory");
}

TEST(DotEnvTest, ReportsEveryBadLineWithItsNumberAndAddsNothing) {
  test::TempDir dir;
  std::string path = dir.write("bad.env",
                               "GOOD=1\n"
                               "no equals sign\n"
                               "# fine\n"
                               "1BAD=x\n"
                               "OPEN='never closed\n"
                               "DQ=\"never closed\n"
                               "TRAIL='v' junk\n"
                               "ESC=\"\\q\"\n");
  Environment env;
  Status status = env.LoadDotEnv(path, false);
  ASSERT_EQ(status.code(), FLX_INVALID_ARGUMENT);
  EXPECT_EQ(status.message(),
            path + ":2: expected KEY=VALUE, got 'no equals sign'\n" + path +
                ":4: invalid variable name '1BAD' (expected [A-Za-z_][A-Za-z0-9_]*)\n" + path +
                ":5: unterminated single-quoted value\n" + path +
                ":6: unterminated double-quoted value\n" + path +
                ":7: unexpected text after the closing quote\n" + path +
                ":8: unknown escape '\\q' in double-quoted value");
  EXPECT_FALSE(env.Get("GOOD").has_value());
}

}  // namespace
}  // namespace flx
