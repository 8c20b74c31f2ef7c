#include "io/checkpoint.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <algorithm>
#include <functional>

#include "io/safetensors.h"
#include "support/golden.h"
#include "support/temp_dir.h"

namespace flx::flux {
namespace {

using flx::test::TempDir;

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const LoadError& error) {
    return error.what();
  }
  return "<no LoadError>";
}

const std::vector<std::string> kConfigAndTokenizerFiles = {
    "model_index.json",         "transformer/config.json",    "vae/config.json",
    "text_encoder/config.json", "text_encoder_2/config.json", "scheduler/scheduler_config.json",
    "tokenizer/vocab.json",     "tokenizer/merges.txt",       "tokenizer_2/spiece.model"};

// A folder with every file resolve_model() checks for (contents are irrelevant to it), minus
// `omit`. Text encoder 2 is sharded, as in the real FLUX.1 repositories.
void make_diffusers_folder(const TempDir& dir, const std::string& folder,
                           const std::vector<std::string>& omit = {}) {
  std::vector<std::string> files = kConfigAndTokenizerFiles;
  files.insert(
      files.end(),
      {"transformer/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
       "text_encoder/model.safetensors", "text_encoder_2/model.safetensors.index.json"});
  for (const std::string& file : files) {
    if (std::find(omit.begin(), omit.end(), file) == omit.end()) dir.write(folder + "/" + file, "");
  }
}

TensorView one_float(const std::string& name) {
  const float value = 1.0f;
  return make_owned_tensor(name, DType::F32, {1}, &value, 4);
}

TEST(HfHubCacheDir, FollowsHuggingfaceHubPrecedence) {
  EXPECT_EQ(hf_hub_cache_dir("/c", "/h", "/home/u"), "/c");
  EXPECT_EQ(hf_hub_cache_dir(std::nullopt, "/h", "/home/u"), "/h/hub");
  EXPECT_EQ(hf_hub_cache_dir(std::string(), "/h", "/home/u"), "/h/hub");
  EXPECT_EQ(hf_hub_cache_dir(std::nullopt, std::nullopt, "/home/u"),
            "/home/u/.cache/huggingface/hub");
}

TEST(ResolveModel, AcceptsTheGoldenDiffusersFolder) {
  FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
  const ModelPaths paths = resolve_model(model_dir, "/nonexistent-cache");
  EXPECT_EQ(paths.root, model_dir);
  EXPECT_EQ(paths.transformer_file, "");
  EXPECT_EQ(paths.vae_file, "");
  EXPECT_EQ(paths.component_dir("tokenizer_2"), model_dir + "/tokenizer_2");
  EXPECT_TRUE(open_transformer_weights(paths).contains("x_embedder.weight"));
  EXPECT_TRUE(open_vae_weights(paths).contains("decoder.conv_in.weight"));
  EXPECT_TRUE(open_text_encoder_weights(paths).contains("text_model.final_layer_norm.weight"));
  EXPECT_TRUE(open_text_encoder_2_weights(paths).contains("shared.weight"));
}

TEST(ResolveModel, GoldenBflSingleFileWithBaseLoadsTheSameTransformerNames) {
  FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
  const std::string file = model_dir + "/flux1-small-schnell-bfl.safetensors";
  const ModelPaths paths = resolve_model(file, "/nonexistent-cache", model_dir);
  EXPECT_EQ(paths.root, model_dir);
  EXPECT_EQ(paths.transformer_file, file);
  EXPECT_EQ(paths.vae_file, "") << "the golden folder has no ae.safetensors";
  EXPECT_EQ(
      open_transformer_weights(paths).names(),
      TensorStore::open_component(model_dir + "/transformer", "diffusion_pytorch_model").names());
}

TEST(ResolveModel, ReportsEveryMissingFileOfAFolder) {
  TempDir dir;
  make_diffusers_folder(dir, "model",
                        {"tokenizer_2/spiece.model", "vae/config.json",
                         "text_encoder_2/model.safetensors.index.json"});
  EXPECT_EQ(error_of([&] { resolve_model(dir.file("model"), "/nonexistent-cache"); }),
            dir.file("model") +
                ": not a complete FLUX diffusers folder, missing vae/config.json, " +
                "tokenizer_2/spiece.model, text_encoder_2/model.safetensors");
}

TEST(ResolveModel, FindsRepoIdsInTheHubCacheByRefsMain) {
  TempDir cache;
  const std::string repo = cache.file("models--black-forest-labs--FLUX.1-schnell");
  make_diffusers_folder(cache, "models--black-forest-labs--FLUX.1-schnell/snapshots/aaa111");
  make_diffusers_folder(cache, "models--black-forest-labs--FLUX.1-schnell/snapshots/bbb222");
  cache.write("models--black-forest-labs--FLUX.1-schnell/refs/main", "aaa111\n");
  EXPECT_EQ(resolve_model("black-forest-labs/FLUX.1-schnell", cache.path()).root,
            repo + "/snapshots/aaa111");

  cache.write("models--black-forest-labs--FLUX.1-schnell/refs/main", "ccc333");
  EXPECT_EQ(error_of([&] { resolve_model("black-forest-labs/FLUX.1-schnell", cache.path()); }),
            repo + "/refs/main: names revision \"ccc333\", but " + repo +
                "/snapshots/ccc333 is not a folder");
}

TEST(ResolveModel, WithoutRefsMainTakesTheNewestSnapshot) {
  TempDir cache;
  const std::string snapshots = cache.file("models--org--tiny/snapshots");
  make_diffusers_folder(cache, "models--org--tiny/snapshots/old");
  make_diffusers_folder(cache, "models--org--tiny/snapshots/new");
  struct utimbuf old_time = {1000000, 1000000};
  struct utimbuf new_time = {2000000, 2000000};
  ASSERT_EQ(utime((snapshots + "/old").c_str(), &old_time), 0);
  ASSERT_EQ(utime((snapshots + "/new").c_str(), &new_time), 0);
  EXPECT_EQ(resolve_model("org/tiny", cache.path()).root, snapshots + "/new");
  ASSERT_EQ(utime((snapshots + "/old").c_str(), &new_time), 0);
  ASSERT_EQ(utime((snapshots + "/new").c_str(), &old_time), 0);
  EXPECT_EQ(resolve_model("org/tiny", cache.path()).root, snapshots + "/old");
}

TEST(ResolveModel, SingleFileNeedsABaseAndPicksUpAeSafetensors) {
  TempDir dir;
  make_diffusers_folder(dir, "base",
                        {"transformer/diffusion_pytorch_model.safetensors",
                         "vae/diffusion_pytorch_model.safetensors"});
  dir.write("weights/.keep", "");
  const std::string file = dir.file("weights/flux1-schnell.safetensors");
  write_safetensors(file, {one_float("double_blocks.0.img_mod.lin.bias")}, {});

  EXPECT_EQ(error_of([&] {
              resolve_model(file, "/nonexistent-cache");
            }).rfind(file + ": a single-file checkpoint holds only the transformer", 0),
            0u);
  EXPECT_EQ(error_of([&] { resolve_model(file, "/nonexistent-cache", dir.file("base")); }),
            dir.file("base") + ": not a complete FLUX diffusers folder, missing " +
                "vae/diffusion_pytorch_model.safetensors")
      << "without ae.safetensors the base must have VAE weights";

  const std::string autoencoder = dir.file("weights/ae.safetensors");
  write_safetensors(autoencoder, {one_float("decoder.conv_in.bias")}, {});
  const ModelPaths paths = resolve_model(file, "/nonexistent-cache", dir.file("base"));
  EXPECT_EQ(paths.root, dir.file("base"));
  EXPECT_EQ(paths.transformer_file, file);
  EXPECT_EQ(paths.vae_file, autoencoder);
  EXPECT_TRUE(open_vae_weights(paths).contains("decoder.conv_in.bias"));
}

TEST(ResolveModel, RejectsWhatIsNotAModel) {
  TempDir dir;
  const std::string other = dir.file("clip.safetensors");
  write_safetensors(other, {one_float("text_model.final_layer_norm.weight")}, {});
  const std::string text = dir.write("notes.txt", "hello");
  struct Case {
    std::string spec;
    std::string expected_prefix;
  };
  const Case cases[] = {
      {"", "model spec is empty"},
      {other, other + ": not a FLUX transformer checkpoint"},
      {text, text + ": a single-file checkpoint must be a .safetensors or .gguf file"},
      {dir.file("absent/folder/x"),
       dir.file("absent/folder/x") + ": not a folder, and not a Hugging Face repo id"},
      {"org/missing",
       "org/missing: not a folder or file, and not in the Hugging Face cache (looked for " +
           dir.path() + "/models--org--missing/snapshots)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.spec);
    const std::string message = error_of([&] { resolve_model(c.spec, dir.path(), dir.path()); });
    EXPECT_EQ(message.rfind(c.expected_prefix, 0), 0u) << message;
  }
}

}  // namespace
}  // namespace flx::flux
