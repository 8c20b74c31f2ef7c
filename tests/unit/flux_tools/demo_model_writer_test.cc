#include "demo_model_writer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/clip_tokenizer.h"
#include "io/gguf.h"
#include "io/quantize.h"
#include "demo_weights.h"
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

TEST_F(DemoModelWriterTest, QuantizeWritesTheTransformerAndT5AsCommunityGgufFiles) {
  DemoModelOptions options;
  options.directory = root_ + "/q";
  options.quantize = "q8_0";
  std::ostringstream log;
  write_demo_model(options, log);
  const std::string flux_file = options.directory + "/flux1-tiny-demo-Q8_0.gguf";
  const std::string t5_file = options.directory + "/t5-encoder-demo-Q8_0.gguf";
  EXPECT_FALSE(fs::exists(options.directory + "/transformer/diffusion_pytorch_model.safetensors"));
  EXPECT_FALSE(fs::exists(options.directory + "/text_encoder_2/model.safetensors"));
  EXPECT_TRUE(fs::exists(options.directory + "/transformer/config.json"));

  const auto flux = GgufFile::open(flux_file);
  EXPECT_EQ(flux->string_value("general.architecture"), std::optional<std::string>("flux"));
  EXPECT_EQ(flux->find("double_blocks.0.img_attn.qkv.weight")->dtype, DType::Q8_0);
  EXPECT_EQ(flux->find("img_in.weight")->dtype, DType::F16) << "kept F16 like city96's files";
  EXPECT_EQ(flux->find("double_blocks.0.img_attn.qkv.bias")->dtype, DType::F32);
  const auto t5 = GgufFile::open(t5_file);
  EXPECT_EQ(t5->string_value("general.architecture"), std::optional<std::string>("t5encoder"));
  EXPECT_EQ(t5->find("enc.blk.0.attn_q.weight")->dtype, DType::Q8_0);
  EXPECT_EQ(t5->find("enc.blk.0.attn_rel_b.weight")->dtype, DType::F16);

  // The files resolve the way the README's stage config names them, and the GGUF holds the
  // exact quantization of the float weights the same seed writes.
  const ModelPaths paths = resolve_model(flux_file, "/nonexistent-cache", options.directory,
                                         t5_file);
  const TensorStore transformer = open_transformer_weights(paths);
  const TensorStore t5_store = open_text_encoder_2_weights(paths);
  EXPECT_TRUE(t5_store.contains("encoder.block.1.layer.1.DenseReluDense.wo.weight"));
  const std::string wo = "encoder.block.1.layer.1.DenseReluDense.wo.weight";
  const TensorView& stored = t5_store.get(wo);
  const double fan_in = static_cast<double>(stored.shape[1]);
  const TensorView reference =
      make_tensor({wo, stored.shape, {1.0 / std::sqrt(fan_in), 0}}, 0, "text_encoder_2");
  std::vector<unsigned char> expected(stored.nbytes);
  quantize(DType::Q8_0, static_cast<const float*>(reference.data), reference.numel(),
           expected.data());
  EXPECT_EQ(0, std::memcmp(expected.data(), stored.data, stored.nbytes));
  EXPECT_TRUE(transformer.contains("transformer_blocks.0.attn.to_q.weight"));
  const std::string readme = [&] {
    std::ifstream in(options.directory + "/README.md");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }();
  EXPECT_NE(readme.find("text_encoder_2_file: <this folder>/t5-encoder-demo-Q8_0.gguf"),
            std::string::npos)
      << readme;
}

TEST_F(DemoModelWriterTest, RefusesAnUnknownQuantizeTypeAndFullEncodersOnTiny) {
  DemoModelOptions options;
  options.directory = root_ + "/x";
  options.quantize = "q3_k";
  std::ostringstream log;
  EXPECT_THROW(write_demo_model(options, log), std::runtime_error);
  options.quantize = "none";
  options.full_text_encoders = true;
  EXPECT_THROW(write_demo_model(options, log), std::invalid_argument);
}

}  // namespace
}  // namespace flx::flux::demo
