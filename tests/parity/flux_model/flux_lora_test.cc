// LoRA adapters on the tiny-flux checkpoint (float32 on the CPU). No diffusers output with a
// LoRA exists in ../shared/golden, so these check what diffusers' load_lora_weights +
// fuse_lora(lora_scale=s) (0.32.2, PEFT merge) gives by its definition: the image of a model
// whose transformer weights are W + (B @ A) * (alpha / rank) * s. A copy of the checkpoint
// with those weights written into its transformer file must give the same bytes as the
// base checkpoint with the adapter applied per request; scale 0 gives the base image; a kohya
// file and the diffusers file it converts to give the same weights; and requests with and
// without an adapter running at once on one loaded model each get their own image.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "golden_tensors.h"
#include "io/safetensors.h"
#include "model/flux_pipeline.h"
#include "model/lora_merge.h"
#include "model/lora_weights.h"
#include "support/golden.h"
#include "support/temp_dir.h"

namespace flx::flux {
namespace {

namespace fs = std::filesystem;

TensorView view_of(const std::string& name, const at::Tensor& tensor) {
  auto held = std::make_shared<at::Tensor>(tensor.contiguous());
  TensorView view;
  view.name = name;
  view.dtype = held->scalar_type() == at::kBFloat16 ? DType::BF16 : DType::F32;
  view.shape = held->sizes().vec();
  view.data = held->data_ptr();
  view.nbytes = held->nbytes();
  view.owner = held;
  return view;
}

// The modules the test adapter changes, with their [out, in] shapes on tiny-flux (dim 128).
struct Target {
  std::string module;
  int64_t out, in;
};
const std::vector<Target> kTargets = {
    {"transformer_blocks.0.attn.to_q", 128, 128},
    {"transformer_blocks.1.ff.net.0.proj", 512, 128},
    {"single_transformer_blocks.0.proj_mlp", 512, 128},
    {"single_transformer_blocks.1.attn.to_v", 128, 128},
    {"proj_out", 64, 128},
};
constexpr int64_t kRank = 4;
constexpr double kAlpha = 2.0;  // scaling alpha / rank = 0.5

class FluxLora : public ::testing::Test {
 protected:
  void SetUp() override {
    FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
    model_dir_ = model_dir;
    const std::vector<flx::test::GoldenCase> cases = flx::test::golden_cases(model_dir);
    ASSERT_FALSE(cases.empty());
    pipeline_ = &flx::test::tiny_flux_pipeline(model_dir);
    params_ = flx::test::golden_params(cases.front());
    params_.steps = 2;
    at::manual_seed(11);
    for (const Target& target : kTargets) {
      down_.push_back(at::randn({kRank, target.in}) * 0.3);
      up_.push_back(at::randn({target.out, kRank}) * 0.3);
    }
  }

  // The adapter in diffusers' layout, as ai-toolkit writes it.
  std::string WritePeft() const {
    std::vector<TensorView> views;
    for (size_t i = 0; i < kTargets.size(); ++i) {
      const std::string stem = "transformer." + kTargets[i].module;
      views.push_back(view_of(stem + ".lora_A.weight", down_[i]));
      views.push_back(view_of(stem + ".lora_B.weight", up_[i]));
      views.push_back(view_of(stem + ".alpha", at::tensor({kAlpha}, at::kFloat).reshape({})));
    }
    const std::string path = dir_.path() + "/peft.safetensors";
    write_safetensors(path, views, {});
    return path;
  }

  std::shared_ptr<const WeightOverlay> Overlay(const std::string& file, double scale) const {
    auto weights = std::make_shared<LoraWeights>(read_lora(*SafetensorsFile::open(file)));
    return merge_loras(pipeline_->transformer(), {{"test", weights, scale}}, at::kFloat, at::kCPU);
  }

  // tiny-flux with W + (B @ A) * (alpha / rank) * scale written into its transformer file.
  std::string FusedCheckpoint(double scale) const {
    const std::string root = dir_.path() + "/fused";
    fs::create_directories(root + "/transformer");
    for (const auto& entry : fs::directory_iterator(model_dir_)) {
      if (entry.path().filename() != "transformer") {
        fs::create_symlink(entry.path(), root + "/" + entry.path().filename().string());
      }
    }
    fs::copy_file(model_dir_ + "/transformer/config.json", root + "/transformer/config.json");
    const auto base =
        SafetensorsFile::open(model_dir_ + "/transformer/diffusion_pytorch_model.safetensors");
    std::vector<TensorView> views;
    for (const std::string& name : base->names()) {
      at::Tensor tensor = tensor_from_view(base->get(name)).to(at::kFloat);
      for (size_t i = 0; i < kTargets.size(); ++i) {
        if (name == kTargets[i].module + ".weight") {
          tensor = tensor + at::matmul(up_[i], down_[i]) * (kAlpha / kRank * scale);
        }
      }
      views.push_back(view_of(name, tensor));
    }
    write_safetensors(root + "/transformer/diffusion_pytorch_model.safetensors", views, {});
    return root;
  }

  std::vector<uint8_t> Generate(std::shared_ptr<const WeightOverlay> overlay) const {
    GenerateParams params = params_;
    params.lora_overlay = std::move(overlay);
    return pipeline_->generate(params).front().rgb;
  }

  flx::test::TempDir dir_;
  std::string model_dir_;
  const FluxPipeline* pipeline_ = nullptr;
  GenerateParams params_;
  std::vector<at::Tensor> down_, up_;
};

TEST_F(FluxLora, AnAdapterPerRequestGivesTheImageOfTheFusedCheckpoint) {
  // tiny_flux_pipeline() is float32 on the CPU, whatever the machine's bfloat16 support.
  const double scale = 0.8;
  const std::vector<uint8_t> with_lora = Generate(Overlay(WritePeft(), scale));
  const FluxPipeline fused(FusedCheckpoint(scale), at::kFloat, at::kCPU);
  GenerateParams params = params_;
  const std::vector<uint8_t> expected = fused.generate(params).front().rgb;
  EXPECT_EQ(with_lora, expected);
  EXPECT_NE(with_lora, Generate(nullptr)) << "the adapter changes the image";
}

TEST_F(FluxLora, ScaleZeroIsTheBaseModel) {
  EXPECT_EQ(Generate(Overlay(WritePeft(), 0.0)), Generate(nullptr));
}

at::Tensor BaseWeight(const FluxPipeline& pipeline, const std::string& module) {
  at::Tensor found;
  pipeline.transformer().for_each_linear([&](const Linear& linear) {
    if (linear.name == module) found = linear.dense_weight();
  });
  return found;
}

TEST_F(FluxLora, TheBaseWeightsAreNeverWritten) {
  const at::Tensor before = BaseWeight(*pipeline_, kTargets[0].module).clone();
  ASSERT_TRUE(before.defined());
  Generate(Overlay(WritePeft(), 1.0));
  EXPECT_TRUE(at::equal(before, BaseWeight(*pipeline_, kTargets[0].module)));
}

// kohya's fused img_attn_qkv with alpha = rank / 4: diffusers folds the 0.25 into the
// matrices (down x 0.5, up x 0.5) and splits up's rows between to_q, to_k and to_v.
TEST_F(FluxLora, AKohyaFileMergesAsItsDiffusersConversion) {
  at::manual_seed(3);
  const at::Tensor down = at::randn({kRank, 128});
  const at::Tensor up = at::randn({3 * 128, kRank});
  const std::string kohya = dir_.path() + "/kohya.safetensors";
  write_safetensors(
      kohya,
      {view_of("lora_unet_double_blocks_1_img_attn_qkv.lora_down.weight", down),
       view_of("lora_unet_double_blocks_1_img_attn_qkv.lora_up.weight", up),
       view_of("lora_unet_double_blocks_1_img_attn_qkv.alpha", at::tensor({1.0f}).reshape({})),
       view_of("lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight",
               at::randn({kRank, 32}))},
      {});
  const LoraWeights read = read_lora(*SafetensorsFile::open(kohya));
  EXPECT_EQ(read.format, "kohya");
  ASSERT_EQ(read.ignored.size(), 1u) << "the text-encoder key is reported, not applied";
  const std::string peft = dir_.path() + "/converted.safetensors";
  std::vector<TensorView> views;
  const char* parts[] = {"to_q", "to_k", "to_v"};
  for (int i = 0; i < 3; ++i) {
    const std::string stem = std::string("transformer.transformer_blocks.1.attn.") + parts[i];
    views.push_back(view_of(stem + ".lora_A.weight", down * 0.5));
    views.push_back(view_of(stem + ".lora_B.weight", up.narrow(0, i * 128, 128) * 0.5));
  }
  write_safetensors(peft, views, {});
  const auto a = Overlay(kohya, 0.7);
  const auto b = Overlay(peft, 0.7);
  ASSERT_EQ(a->size(), 3u);
  for (const char* part : parts) {
    const std::string module = std::string("transformer_blocks.1.attn.") + part;
    ASSERT_NE(a->find(module), nullptr) << module;
    EXPECT_TRUE(at::equal(*a->find(module), *b->find(module))) << module;
  }
}

TEST_F(FluxLora, ConcurrentRequestsSeeOnlyTheirOwnAdapters) {
  const auto overlay = Overlay(WritePeft(), 1.0);
  const std::vector<uint8_t> base = Generate(nullptr);
  const std::vector<uint8_t> adapted = Generate(overlay);
  ASSERT_NE(base, adapted);
  std::vector<std::vector<uint8_t>> results(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = Generate(i % 2 == 0 ? nullptr : overlay); });
  }
  for (std::thread& thread : threads) thread.join();
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i], i % 2 == 0 ? base : adapted) << "request " << i;
  }
}

TEST_F(FluxLora, MergedBytesAreKnownBeforeTheMerge) {
  // What the memory budget counts for a set before merging it: one dense copy per changed
  // layer, in the compute dtype, each layer once however many adapters change it.
  const std::string file = WritePeft();
  auto weights = std::make_shared<LoraWeights>(read_lora(*SafetensorsFile::open(file)));
  int64_t expected = 0;
  for (const Target& target : kTargets) expected += target.out * target.in * 4;
  EXPECT_EQ(merged_bytes(pipeline_->transformer(), {{"a", weights, 1.0}}, at::kFloat), expected);
  EXPECT_EQ(merged_bytes(pipeline_->transformer(), {{"a", weights, 1.0}, {"b", weights, 0.5}},
                         at::kFloat),
            expected);
  EXPECT_EQ(merged_bytes(pipeline_->transformer(), {{"a", weights, 1.0}}, at::kBFloat16),
            expected / 2);
  EXPECT_EQ(Overlay(file, 1.0)->bytes(), expected);
}

TEST_F(FluxLora, AnAdapterForAnotherModelIsRefusedByName) {
  std::vector<TensorView> views = {
      view_of("transformer.transformer_blocks.0.attn.to_q.lora_A.weight", at::randn({4, 3072})),
      view_of("transformer.transformer_blocks.0.attn.to_q.lora_B.weight", at::randn({3072, 4}))};
  const std::string path = dir_.path() + "/big.safetensors";
  write_safetensors(path, views, {});
  try {
    Overlay(path, 1.0);
    FAIL() << "merged an adapter with 3072 inputs into a 128-wide model";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("transformer_blocks.0.attn.to_q"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("3072"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace flx::flux
