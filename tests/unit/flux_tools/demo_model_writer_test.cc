#include "demo_model_writer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/clip_tokenizer.h"
#include "io/safetensors.h"
#include "io/t5_tokenizer.h"

namespace flx::flux::demo {
namespace {

namespace fs = std::filesystem;

class DemoModelWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "demo-writer-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string root_;
};

TEST_F(DemoModelWriterTest, WritesACompleteDiffusersFolder) {
  DemoModelOptions options;
  options.directory = root_ + "/demo";
  std::ostringstream log;
  write_demo_model(options, log);

  for (const char* file :
       {"model_index.json", "README.md", "scheduler/scheduler_config.json", "tokenizer/vocab.json",
        "tokenizer/merges.txt", "tokenizer/tokenizer_config.json",
        "tokenizer/special_tokens_map.json", "tokenizer_2/spiece.model",
        "tokenizer_2/tokenizer_config.json", "tokenizer_2/special_tokens_map.json",
        "text_encoder/config.json", "text_encoder/model.safetensors", "text_encoder_2/config.json",
        "text_encoder_2/model.safetensors", "transformer/config.json",
        "transformer/diffusion_pytorch_model.safetensors", "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors"}) {
    const std::string path = options.directory + "/" + file;
    EXPECT_TRUE(fs::is_regular_file(path)) << path;
    EXPECT_NE(log.str().find("wrote " + path), std::string::npos) << "not reported: " << path;
  }
  EXPECT_NE(log.str().find("noise"), std::string::npos) << log.str();

  // What the pipeline will open: the layout resolves and every weight file is float32.
  const ModelPaths paths = resolve_model(options.directory, "/nonexistent-cache");
  EXPECT_EQ(paths.root, options.directory);
  for (const TensorStore& store :
       {open_transformer_weights(paths), open_vae_weights(paths), open_text_encoder_weights(paths),
        open_text_encoder_2_weights(paths)}) {
    for (const std::string& name : store.names()) {
      EXPECT_EQ(store.get(name).dtype, DType::F32) << store.description() << ": " << name;
    }
  }
  const ClipTokenizer clip = ClipTokenizer::load(paths.component_dir("tokenizer"));
  const T5Tokenizer t5 = T5Tokenizer::load(paths.component_dir("tokenizer_2"));
  const std::vector<int32_t> clip_ids = clip.encode("a photo of a cat");
  EXPECT_EQ(clip_ids.front(), clip.bos_id());
  EXPECT_EQ(clip.tokenize("a photo of a cat"),
            (std::vector<std::string>{"a</w>", "photo</w>", "of</w>", "a</w>", "cat</w>"}))
      << "frequent corpus words are single tokens";
  const std::vector<int32_t> t5_ids = t5.encode("a photo of a cat", 16);
  ASSERT_EQ(t5_ids.size(), 16u);
  EXPECT_NE(std::find(t5_ids.begin(), t5_ids.end(), t5.eos_id()), t5_ids.end());
  EXPECT_EQ(t5_ids.back(), t5.pad_id());
}

TEST_F(DemoModelWriterTest, BfloatWeightFilesHoldBfloatTensors) {
  DemoModelOptions options;
  options.directory = root_ + "/bf16";
  options.dtype = "bfloat16";
  std::ostringstream log;
  write_demo_model(options, log);
  const ModelPaths paths = resolve_model(options.directory, "/nonexistent-cache");
  for (const TensorStore& store :
       {open_transformer_weights(paths), open_vae_weights(paths), open_text_encoder_weights(paths),
        open_text_encoder_2_weights(paths)}) {
    for (const std::string& name : store.names()) {
      EXPECT_EQ(store.get(name).dtype, DType::BF16) << store.description() << ": " << name;
    }
  }
}

TEST_F(DemoModelWriterTest, SameSeedSameWeights) {
  DemoModelOptions a;
  a.directory = root_ + "/a";
  a.seed = 3;
  DemoModelOptions b = a;
  b.directory = root_ + "/b";
  DemoModelOptions c = a;
  c.directory = root_ + "/c";
  c.seed = 4;
  std::ostringstream log;
  for (const DemoModelOptions& options : {a, b, c}) write_demo_model(options, log);
  auto bytes = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  for (const char* file : {"transformer/diffusion_pytorch_model.safetensors",
                           "tokenizer/vocab.json", "tokenizer_2/spiece.model"}) {
    EXPECT_EQ(bytes(a.directory + "/" + file), bytes(b.directory + "/" + file)) << file;
  }
  EXPECT_NE(bytes(a.directory + "/transformer/diffusion_pytorch_model.safetensors"),
            bytes(c.directory + "/transformer/diffusion_pytorch_model.safetensors"));
}

TEST_F(DemoModelWriterTest, RefusesANonEmptyFolderWithoutForce) {
  std::ofstream(root_ + "/notes.txt") << "keep me";
  DemoModelOptions options;
  options.directory = root_;
  std::ostringstream log;
  try {
    write_demo_model(options, log);
    FAIL() << "wrote into a non-empty folder";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(root_ + ": folder is not empty; pass --force"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(root_ + "/model_index.json"));
  options.force = true;
  write_demo_model(options, log);
  EXPECT_TRUE(fs::exists(root_ + "/model_index.json"));
  EXPECT_TRUE(fs::exists(root_ + "/notes.txt")) << "--force keeps files that are not ours";
}

TEST_F(DemoModelWriterTest, RefusesAnUnknownDtype) {
  DemoModelOptions options;
  options.directory = root_ + "/x";
  options.dtype = "float8";
  std::ostringstream log;
  try {
    write_demo_model(options, log);
    FAIL() << "accepted dtype float8";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown dtype \"float8\""), std::string::npos)
        << e.what();
  }
}

TEST_F(DemoModelWriterTest, RefusesAnUnknownPreset) {
  DemoModelOptions options;
  options.directory = root_ + "/x";
  options.preset = "huge";
  std::ostringstream log;
  EXPECT_THROW(write_demo_model(options, log), std::runtime_error);
}

}  // namespace
}  // namespace flx::flux::demo
