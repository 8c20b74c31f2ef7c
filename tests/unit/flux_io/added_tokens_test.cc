#include "io/added_tokens.h"

#include <gtest/gtest.h>

#include <functional>

#include "io/tensor.h"
#include "io/tokenizer_config.h"
#include "support/temp_dir.h"

namespace flx::flux {
namespace {

using flx::test::TempDir;

// Pieces rendered as "[token]" or "text", joined by "|".
std::string render(const std::vector<AddedTokens::Piece>& pieces) {
  std::string out;
  for (const AddedTokens::Piece& piece : pieces) {
    if (!out.empty()) out += "|";
    out += piece.token != nullptr ? "[" + piece.token->content + "]" : piece.text;
  }
  return out;
}

AddedTokens t5_like() {
  return AddedTokens({{"</s>", 1, false, false, true},
                      {"<extra_id_1>", 32098, true, true, true},
                      {"<extra_id_10>", 32089, true, true, true}},
                     "test");
}

TEST(AddedTokens, CutsLikePreTrainedTokenizerTokenize) {
  struct Case {
    std::string text;
    std::string expected;
  };
  const Case cases[] = {
      {"plain text", "plain text"},
      {"a</s>b", "a|[</s>]|b"},
      {"a </s> b", "a |[</s>]| b"},                   // no strip flags: spaces stay
      {"a  <extra_id_1>\t b", "a|[<extra_id_1>]|b"},  // lstrip and rstrip eat whitespace
      {"<extra_id_10>x", "[<extra_id_10>]|x"},        // longest match wins
      {"<extra_id_1><extra_id_10>", "[<extra_id_1>]|[<extra_id_10>]"},
      {"x \u3000<extra_id_1>", "x|[<extra_id_1>]"},  // Python whitespace, not just ASCII
      {"   <extra_id_1>   ", "[<extra_id_1>]"},      // stripped neighbours vanish
      {"", ""},
  };
  const AddedTokens tokens = t5_like();
  for (const Case& c : cases) EXPECT_EQ(render(tokens.split(c.text)), c.expected) << c.text;
}

TEST(AddedTokens, RejectsEmptyAndRepeatedContent) {
  EXPECT_THROW(AddedTokens({{"", 3, false, false, true}}, "cfg"), LoadError);
  EXPECT_THROW(AddedTokens({{"<a>", 3, false, false, true}, {"<a>", 4, false, false, true}}, "cfg"),
               LoadError);
}

TEST(TokenizerConfig, ReadsAddedTokensSpecialNamesAndFlags) {
  TempDir dir;
  const std::string path = dir.write("tokenizer_config.json", R"({
    "added_tokens_decoder": {
      "1": {"content": "</s>", "lstrip": false, "rstrip": false, "special": true},
      "32099": {"content": "<extra_id_0>", "lstrip": true, "rstrip": true, "special": true}
    },
    "eos_token": "</s>",
    "pad_token": {"content": "<pad>", "lstrip": false},
    "legacy": false
  })");
  const TokenizerConfig config = read_tokenizer_config(path);
  ASSERT_TRUE(config.added_tokens.has_value());
  const AddedToken* extra = config.added_tokens->find("<extra_id_0>");
  ASSERT_NE(extra, nullptr);
  EXPECT_EQ(extra->id, 32099);
  EXPECT_TRUE(extra->lstrip && extra->rstrip && extra->special);
  EXPECT_EQ(config.special_tokens.at("eos_token"), "</s>");
  EXPECT_EQ(config.special_tokens.at("pad_token"), "<pad>");
  EXPECT_EQ(config.legacy, false);
  EXPECT_FALSE(config.add_prefix_space.has_value());
  EXPECT_FALSE(read_tokenizer_config(dir.file("absent.json")).added_tokens.has_value());
}

TEST(TokenizerConfig, ErrorsNameTheFileAndEntry) {
  struct Case {
    const char* json;
    std::string fragment;
  };
  const Case cases[] = {
      {"{", "tokenizer_config.json: "},
      {R"({"added_tokens_decoder": {"x": {"content": "a"}}})", "[\"x\"]: key is not a token id"},
      {R"({"added_tokens_decoder": {"5": {"lstrip": true}}})", "[\"5\"]: \"content\" missing"},
      {R"({"added_tokens_decoder": {"5": {"content": "a", "single_word": true}}})",
       "\"single_word\": true is not supported"},
      {R"({"added_tokens_decoder": {"5": {"content": "a", "rstrip": "yes"}}})",
       "\"rstrip\" is not true or false"},
      {R"({"eos_token": 3})", "\"eos_token\" is neither a string"},
  };
  for (const Case& c : cases) {
    TempDir dir;
    const std::string path = dir.write("tokenizer_config.json", c.json);
    try {
      read_tokenizer_config(path);
      ADD_FAILURE() << "expected LoadError for " << c.json;
    } catch (const LoadError& error) {
      const std::string message = error.what();
      EXPECT_EQ(message.rfind(path, 0), 0u) << message;
      EXPECT_NE(message.find(c.fragment), std::string::npos) << message;
    }
  }
}

}  // namespace
}  // namespace flx::flux
