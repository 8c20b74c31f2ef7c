#include "clip_bpe_trainer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "io/clip_tokenizer.h"

namespace flx::flux::demo {
namespace {

namespace fs = std::filesystem;

TEST(ClipWordsTest, CutsLikeClipTokenizer) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"A photo of a CAT", {"a", "photo", "of", "a", "cat"}},
      {"the cat's hat!", {"the", "cat", "'s", "hat", "!"}},
      {"don't we'll they're", {"don", "'t", "we", "'ll", "they", "'re"}},
      {"4k, 1950s", {"4", "k", ",", "1", "9", "5", "0", "s"}},
      {"a--b ...", {"a", "--", "b", "..."}},
      {"  \t\n ", {}},
  };
  for (const auto& [text, words] : cases) EXPECT_EQ(clip_words(text), words) << text;
}

TEST(ClipWordsTest, RefusesNonAsciiText) {
  EXPECT_THROW(clip_words("caf\xc3\xa9"), std::invalid_argument);
}

TEST(ClipBpeTest, VocabularyHasClipsLayout) {
  const BpeVocabulary v = learn_clip_bpe({"low low low lower"}, 100);
  ASSERT_GE(v.tokens.size(), 514u);
  EXPECT_EQ(v.tokens[0], "!") << "byte 33 comes first";
  EXPECT_EQ(v.tokens[93], "~");
  EXPECT_EQ(v.tokens[188], "\xc4\x80") << "byte 0 is U+0100, after the 188 printable bytes";
  EXPECT_EQ(v.tokens[256], "!</w>");
  EXPECT_EQ(v.tokens[256 + 64], "a</w>") << "as in CLIP's vocabulary, where a</w> is 320";
  EXPECT_EQ(v.tokens[v.tokens.size() - 2], "<|startoftext|>");
  EXPECT_EQ(v.tokens.back(), "<|endoftext|>");
}

TEST(ClipBpeTest, MergesTheMostFrequentPairsFirst) {
  // Pairs: (l, o) 4 times, (o, w</w>) 3 times, everything else once.
  const BpeVocabulary v = learn_clip_bpe({"low low low lower"}, 100);
  const std::vector<std::pair<std::string, std::string>> expected = {{"l", "o"}, {"lo", "w</w>"}};
  EXPECT_EQ(v.merges, expected) << "merging stops when no pair occurs twice";
  EXPECT_EQ(v.tokens.size(), 512u + 2u + 2u);
  EXPECT_EQ(v.tokens[512], "lo");
  EXPECT_EQ(v.tokens[513], "low</w>");
  EXPECT_EQ(learn_clip_bpe({"low low low lower"}, 1).merges.size(), 1u) << "max_merges holds";
}

TEST(ClipBpeTest, LearningIsDeterministic) {
  const std::vector<std::string> text = {"the quick brown fox", "jumps over the lazy dog",
                                         "the dog sleeps", "the fox runs"};
  const BpeVocabulary a = learn_clip_bpe(text, 50);
  const BpeVocabulary b = learn_clip_bpe(text, 50);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.merges, b.merges);
}

TEST(ClipBpeTest, FilesLoadIntoIosClipTokenizer) {
  const BpeVocabulary v = learn_clip_bpe({"low low low lower"}, 100);
  std::string dir = (fs::temp_directory_path() / "clip-bpe-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  std::ofstream(dir + "/vocab.json") << vocab_json(v);
  std::ofstream(dir + "/merges.txt") << merges_txt(v);
  const ClipTokenizer tokenizer = ClipTokenizer::load(dir);
  EXPECT_EQ(tokenizer.tokenize("low lower"),
            (std::vector<std::string>{"low</w>", "lo", "w", "e", "r</w>"}));
  EXPECT_EQ(tokenizer.bos_id(), static_cast<int32_t>(v.tokens.size() - 2));
  EXPECT_EQ(tokenizer.eos_id(), static_cast<int32_t>(v.tokens.size() - 1));
  EXPECT_EQ(tokenizer.vocab_size(), v.tokens.size());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace flx::flux::demo
