#include "config/yaml_characters.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "config/environment.h"
#include "config/graph_config.h"

namespace flx {
namespace {

TEST(YamlCharactersTest, PrintableUtf8TextPasses) {
  EXPECT_FALSE(FindNonPrintableCharacter("version: 1\n\tname: \"caf\xC3\xA9 \xE7\x8C\xAB\"\r\n"));
  EXPECT_FALSE(FindNonPrintableCharacter("\xEF\xBB\xBFversion: 1\n"));  // BOM
  EXPECT_FALSE(FindNonPrintableCharacter("emoji: \xF0\x9F\x90\x88\n"));
  EXPECT_FALSE(FindNonPrintableCharacter(""));
}

TEST(YamlCharactersTest, ControlCharacterIsReportedWithLineAndColumn) {
  auto problem = FindNonPrintableCharacter("a: 1\nb: x\x01y\n");
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->line, 2);
  EXPECT_EQ(problem->column, 5);
  EXPECT_NE(problem->message.find("U+0001"), std::string::npos) << problem->message;
}

TEST(YamlCharactersTest, NulAndDeleteAreRefused) {
  EXPECT_TRUE(FindNonPrintableCharacter(std::string("# x\0y\n", 6)));
  EXPECT_TRUE(FindNonPrintableCharacter("a: \x7F\n"));
}

TEST(YamlCharactersTest, ColumnsCountCharactersNotBytes) {
  auto problem = FindNonPrintableCharacter("\xC3\xA9\xC3\xA9\x02");
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->column, 3);
}

TEST(YamlCharactersTest, MalformedUtf8IsRefused) {
  for (const char* text : {"a: \xFF\n", "a: \xC3\n", "a: \xC0\xAF\n", "a: \xED\xA0\x80\n",
                           "a: \xF4\x90\x80\x80\n", "\xE2\x82"}) {
    auto problem = FindNonPrintableCharacter(text);
    ASSERT_TRUE(problem) << text;
    EXPECT_NE(problem->message.find("UTF-8"), std::string::npos);
  }
}

// The input fuzz/graph_config_fuzzer.cc found: yaml-cpp 0.7's LoadAll() looped on it for
// tens of seconds while its memory grew. Refused now before yaml-cpp sees it.
TEST(YamlCharactersTest, TheFuzzerHangInputIsRefusedAtOnce) {
  const std::string text(
      "# An emp then x, kind: pipeline, library: flx_pipeline_flux, \x01\0\0\0type: li\x01\n"
      ", library: flx_pipeline_flux, tyxe: flux }\nmodels: {}\n",
      129);
  Diagnostics diags;
  const auto started = std::chrono::steady_clock::now();
  auto config = ParseGraphConfig(text, "hang.yaml", Environment(), &diags);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  ASSERT_FALSE(config.ok());
  EXPECT_NE(diags.ToString().find("hang.yaml:1:62: error: control character U+0001"),
            std::string::npos)
      << diags.ToString();
}

}  // namespace
}  // namespace flx
