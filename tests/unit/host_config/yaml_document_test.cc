#include "config/yaml_document.h"

#include <gtest/gtest.h>

#include <string>

namespace flx {
namespace {

TEST(YamlDocumentTest, OneDocumentHasNoTrailingContent) {
  SingleDocument document = LoadSingleDocument("version: 1\nmodels: {a: [b]}\n");
  ASSERT_TRUE(document.root.IsMap());
  EXPECT_EQ(document.root["version"].as<int>(), 1);
  EXPECT_FALSE(document.trailing_content);
}

TEST(YamlDocumentTest, EmptyStreamIsANullRoot) {
  SingleDocument document = LoadSingleDocument("# only a comment\n");
  EXPECT_TRUE(document.root.IsNull());
  EXPECT_FALSE(document.trailing_content);
}

TEST(YamlDocumentTest, SecondDocumentIsReportedWhereItStarts) {
  SingleDocument document = LoadSingleDocument("a: 1\n---\nb: 2\n");
  ASSERT_TRUE(document.trailing_content);
  EXPECT_EQ(document.trailing_content->line, 1);  // 0-based, like every YAML::Mark
  EXPECT_EQ(document.root["a"].as<int>(), 1);
}

// yaml-cpp 0.7's LoadAll() never returns on these; the bounded loader must.
TEST(YamlDocumentTest, StrayCommaOutsideAFlowCollectionEndsAtOnce) {
  for (const std::string text : {",\n", ", x\n", "- a\n,\n", "# c\n  , x\nversion: 1\n"}) {
    SingleDocument document = LoadSingleDocument(text);
    ASSERT_TRUE(document.trailing_content) << text;
    EXPECT_EQ(text[document.trailing_content->pos], ',') << text;
  }
}

TEST(YamlDocumentTest, SyntaxErrorsThrowWithTheirMark) {
  try {
    LoadSingleDocument("a: [1, 2\n");
    FAIL() << "expected a YAML::Exception";
  } catch (const YAML::Exception& e) {
    EXPECT_FALSE(e.mark.is_null());
  }
}

}  // namespace
}  // namespace flx
