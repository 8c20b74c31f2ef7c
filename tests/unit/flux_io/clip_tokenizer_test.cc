#include "io/clip_tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/golden.h"

namespace flx::flux {
namespace {

// Uses the golden model's tokenizer/ (byte-identical to FLUX.1's CLIP vocabulary and merges).
// Token expectations were worked out by hand from transformers' CLIPTokenizer code and checked
// with a direct Python transcription of its bytes_to_unicode + bpe() over the same files.
class ClipTokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
    tokenizer_ = std::make_unique<ClipTokenizer>(ClipTokenizer::load(model_dir + "/tokenizer"));
  }
  std::unique_ptr<ClipTokenizer> tokenizer_;
};

constexpr int32_t kBos = 49406;
constexpr int32_t kEos = 49407;

TEST_F(ClipTokenizerTest, ReadmeExample) {
  std::vector<int32_t> expected = {kBos, 320, 1125, 539, 320, 2368, kEos};
  expected.resize(77, kEos);
  EXPECT_EQ(tokenizer_->encode("a photo of a cat"), expected);
  EXPECT_EQ(tokenizer_->bos_id(), kBos);
  EXPECT_EQ(tokenizer_->eos_id(), kEos);
  EXPECT_EQ(tokenizer_->pad_id(), kEos);
  EXPECT_EQ(tokenizer_->vocab_size(), 49408u);
}

TEST_F(ClipTokenizerTest, EmptyPromptIsBosEosThenPadding) {
  std::vector<int32_t> expected = {kBos, kEos};
  expected.resize(77, kEos);
  EXPECT_EQ(tokenizer_->encode(""), expected);
  EXPECT_EQ(tokenizer_->encode(" \t\n "), expected) << "whitespace only";
}

TEST_F(ClipTokenizerTest, TokensOfHandCheckedInputs) {
  struct Case {
    std::string text;
    std::vector<std::string> tokens;
  };
  const Case cases[] = {
      {"a photo of a cat", {"a</w>", "photo</w>", "of</w>", "a</w>", "cat</w>"}},
      {"  A   PHOTO\tof\na  cat  ", {"a</w>", "photo</w>", "of</w>", "a</w>", "cat</w>"}},
      // punctuation runs stay together ([^\s\p{L}\p{N}]+), then BPE splits them
      {"wow!!! ...?!", {"wow</w>", "!!!</w>", "...", "?!</w>"}},
      {"IT'S", {"it</w>", "'s</w>"}},
      // digits are matched one at a time ([\p{N}])
      {"4k", {"4</w>", "k</w>"}},
      // UTF-8 bytes through bytes_to_unicode: è = C3 A8 -> "Ã¨"
      {"Crème", {"cr", "Ã¨", "me</w>"}},
      {"brûlée", {"br", "Ã", "»", "l", "Ã©e</w>"}},
      // BasicTokenizer puts spaces around CJK ideographs: each is its own word
      {"東京", {"æĿ", "±</w>", "äº", "¬</w>"}},
      {"🙂", {"ðŁĻĤ</w>"}},
      // the special tokens are cut out verbatim, and recognised again after lowercasing
      {"a<|endoftext|>b", {"a</w>", "<|endoftext|>", "b</w>"}},
      {"<|ENDOFTEXT|>", {"<|endoftext|>"}},
  };
  for (const Case& c : cases) EXPECT_EQ(tokenizer_->tokenize(c.text), c.tokens) << c.text;
}

TEST_F(ClipTokenizerTest, IdsOfHandCheckedInputs) {
  EXPECT_EQ(tokenizer_->token_ids("Crème"), (std::vector<int32_t>{1075, 12138, 614}));
  EXPECT_EQ(tokenizer_->token_ids("🙂"), (std::vector<int32_t>{14860}));
  EXPECT_EQ(tokenizer_->token_ids("a<|endoftext|>b"), (std::vector<int32_t>{320, kEos, 321}));
  EXPECT_EQ(tokenizer_->token_ids("<|startoftext|>"), (std::vector<int32_t>{kBos}));
}

TEST_F(ClipTokenizerTest, EquivalentSpellingsGiveEqualTokens) {
  struct Case {
    std::string text;
    std::string same_as;
    const char* why;
  };
  const Case cases[] = {
      {"cre\u0300me", "crème", "NFC composes e + combining grave"},
      {"\u00C9T\u00C9", "été", "lowercasing keeps accents (strip_accents=False)"},
      {"a\u200Bphoto", "aphoto", "format characters (Cf) are dropped"},
      {"a\u00A0photo", "a photo", "no-break space (Zs) is a space"},
      {"a\x07photo", "aphoto", "control characters are dropped"},
      {"東京", "東 京", "CJK ideographs are separate words"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(tokenizer_->tokenize(c.text), tokenizer_->tokenize(c.same_as)) << c.why;
  }
}

TEST_F(ClipTokenizerTest, OverLongPromptKeepsBosFirst75TokensEos) {
  std::string prompt;
  for (int i = 0; i < 100; ++i) prompt += "cat ";
  const std::vector<int32_t> ids = tokenizer_->encode(prompt);
  ASSERT_EQ(ids.size(), 77u);
  EXPECT_EQ(ids.front(), kBos);
  EXPECT_EQ(ids.back(), kEos);
  for (size_t i = 1; i + 1 < ids.size(); ++i) ASSERT_EQ(ids[i], 2368) << "position " << i;
  EXPECT_EQ(tokenizer_->encode(prompt, 5), (std::vector<int32_t>{kBos, 2368, 2368, 2368, kEos}));
  EXPECT_THROW(tokenizer_->encode(prompt, 1), std::invalid_argument);
}

TEST_F(ClipTokenizerTest, LimitedTokenizationIsAPrefixOfTheWholeOne) {
  std::string prompt;
  for (int i = 0; i < 40; ++i) {
    prompt += "A photo-realistic <|endoftext|>cat nr." + std::to_string(i) + " w/ naïve 😀 hats, ";
  }
  const std::vector<std::string> whole = tokenizer_->tokenize(prompt);
  ASSERT_GT(whole.size(), 300u);
  for (size_t limit : {size_t{0}, size_t{1}, size_t{75}, size_t{299}}) {
    const std::vector<std::string> limited = tokenizer_->tokenize(prompt, limit);
    ASSERT_GE(limited.size(), limit);
    ASSERT_LT(limited.size(), whole.size()) << "limit " << limit << " did not stop early";
    EXPECT_TRUE(std::equal(limited.begin(), limited.end(), whole.begin())) << "limit " << limit;
  }
  std::vector<int32_t> expected = tokenizer_->token_ids(prompt);
  expected.resize(75);
  expected.insert(expected.begin(), kBos);
  expected.push_back(kEos);
  EXPECT_EQ(tokenizer_->encode(prompt), expected);
}

}  // namespace
}  // namespace flx::flux
