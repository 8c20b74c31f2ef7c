#include "io/t5_tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "io/tensor.h"
#include "support/golden.h"
#include "support/temp_dir.h"

namespace flx::flux {
namespace {

using flx::test::TempDir;

// Uses the golden model's tokenizer_2/ (T5 v1.1 pieces, scores and nmt_nfkc charsmap as in
// FLUX.1, legacy: false). Expectations are reasoned from transformers' T5Tokenizer code; ids of
// single pieces were read off SentencePiece.
class T5TokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
    tokenizer_dir_ = model_dir + "/tokenizer_2";
    tokenizer_ = std::make_unique<T5Tokenizer>(T5Tokenizer::load(tokenizer_dir_));
  }
  std::string tokenizer_dir_;
  std::unique_ptr<T5Tokenizer> tokenizer_;
};

constexpr int32_t kEos = 1;
constexpr int32_t kPad = 0;

std::vector<int32_t> padded(std::vector<int32_t> ids, size_t length) {
  ids.resize(length, kPad);
  return ids;
}

TEST_F(T5TokenizerTest, ReadmeExample) {
  // The lone "a" is "▁" + "a": T5's vocabulary has no "▁a" that wins here.
  EXPECT_EQ(tokenizer_->tokenize("a photo of a cat"),
            (std::vector<std::string>{"▁", "a", "▁photo", "▁of", "▁", "a", "▁cat"}));
  EXPECT_EQ(tokenizer_->encode("a photo of a cat", 12),
            padded({3, 9, 1202, 13, 3, 9, 1712, kEos}, 12));
  EXPECT_EQ(tokenizer_->eos_id(), kEos);
  EXPECT_EQ(tokenizer_->pad_id(), kPad);
}

TEST_F(T5TokenizerTest, EmptyPromptIsEosThenPadding) {
  EXPECT_TRUE(tokenizer_->tokenize("").empty());
  EXPECT_EQ(tokenizer_->encode("", 4), (std::vector<int32_t>{kEos, kPad, kPad, kPad}));
}

TEST_F(T5TokenizerTest, EquivalentSpellingsGiveEqualIds) {
  struct Case {
    std::string text;
    std::string same_as;
    const char* why;
  };
  const Case cases[] = {
      {"  a   photo\t of a cat  ", "a photo of a cat", "SentencePiece collapses whitespace"},
      {"a\u2581photo of a cat", "a photo of a cat", "\"▁\" in the text is read as a space"},
      {"Cre\u0300me br\u00FBl\u00E9e", "Crème brûlée", "nmt_nfkc composes accents"},
      {"\uFF21\uFF22\uFF23", "ABC", "NFKC folds full-width letters"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(tokenizer_->token_ids(c.text), tokenizer_->token_ids(c.same_as)) << c.why;
  }
}

TEST_F(T5TokenizerTest, AddedTokensFollowTransformersCutting) {
  // "▁<extra_id_0> hello": <extra_id_0> (lstrip, rstrip) eats the space, so "hello" reaches
  // SentencePiece without a leading space and, with add_dummy_prefix off, without "▁"; the lone
  // leading "▁" encodes to nothing.
  EXPECT_EQ(tokenizer_->tokenize("<extra_id_0> hello"),
            (std::vector<std::string>{"<extra_id_0>", "h", "ello"}));
  EXPECT_EQ(tokenizer_->token_ids("<extra_id_0> hello"), (std::vector<int32_t>{32099, 107, 7126}));
  // A literal </s> at the end is the EOS: _add_eos_if_not_present adds no second one.
  EXPECT_EQ(tokenizer_->encode("hello</s>", 5),
            (std::vector<int32_t>{21820, kEos, kPad, kPad, kPad}));
}

TEST_F(T5TokenizerTest, OverLongPromptKeepsFirstMaxMinusOneIdsThenEos) {
  std::string prompt;
  for (int i = 0; i < 300; ++i) prompt += "cat ";
  const std::vector<int32_t> ids = tokenizer_->encode(prompt, 256);
  ASSERT_EQ(ids.size(), 256u);
  for (size_t i = 0; i < 255; ++i) ASSERT_EQ(ids[i], 1712) << "position " << i;
  EXPECT_EQ(ids[255], kEos);
  EXPECT_EQ(tokenizer_->encode(prompt, 1), (std::vector<int32_t>{kEos}));
  EXPECT_THROW(tokenizer_->encode(prompt, 0), std::invalid_argument);
}

TEST_F(T5TokenizerTest, WithoutConfigUsesT5DefaultsAndLegacyTokenization) {
  TempDir dir;
  std::ifstream model(tokenizer_dir_ + "/spiece.model", std::ios::binary);
  std::ostringstream bytes;
  bytes << model.rdbuf();
  dir.write("spiece.model", bytes.str());
  const T5Tokenizer legacy = T5Tokenizer::load(dir.path());
  // Legacy T5Tokenizer encodes the raw text with the model as stored (this one has no dummy
  // prefix), without the "▁" the non-legacy path prepends.
  EXPECT_EQ(legacy.token_ids("hello"), (std::vector<int32_t>{107, 7126}));
  EXPECT_EQ(tokenizer_->token_ids("hello"), (std::vector<int32_t>{21820}));
  EXPECT_EQ(legacy.token_ids("<extra_id_0>"), (std::vector<int32_t>{32099}));
  EXPECT_EQ(legacy.token_ids("<extra_id_99>"), (std::vector<int32_t>{32000}));
  EXPECT_EQ(legacy.encode("", 2), (std::vector<int32_t>{kEos, kPad}));
}

TEST(T5TokenizerLoad, MissingOrBrokenModelNamesTheFile) {
  TempDir dir;
  const std::string model = dir.file("spiece.model");
  for (const bool present : {false, true}) {
    if (present) dir.write("spiece.model", "not a model");
    try {
      T5Tokenizer::load(dir.path());
      ADD_FAILURE() << "expected LoadError";
    } catch (const LoadError& error) {
      EXPECT_EQ(std::string(error.what()).rfind(model + ": ", 0), 0u) << error.what();
    }
  }
}

}  // namespace
}  // namespace flx::flux
