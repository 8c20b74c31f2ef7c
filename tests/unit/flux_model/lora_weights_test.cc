// Reading LoRA files (model/lora_weights.h): the two layouts, diffusers' kohya scale split,
// and the errors that name the file and key.
#include "model/lora_weights.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "io/tensor.h"
#include "support/temp_dir.h"

namespace flx::flux {
namespace {

TensorView view_of(const std::string& name, const at::Tensor& tensor) {
  auto held = std::make_shared<at::Tensor>(tensor.contiguous().to(at::kFloat));
  TensorView view;
  view.name = name;
  view.dtype = DType::F32;
  view.shape = held->sizes().vec();
  view.data = held->data_ptr();
  view.nbytes = held->nbytes();
  view.owner = held;
  return view;
}

class LoraWeightsTest : public ::testing::Test {
 protected:
  LoraWeights Read(const std::vector<TensorView>& views) {
    const std::string path = dir_.path() + "/lora.safetensors";
    write_safetensors(path, views, {});
    return read_lora(*SafetensorsFile::open(path));
  }
  std::string Error(const std::vector<TensorView>& views) {
    try {
      Read(views);
    } catch (const LoadError& e) {
      return e.what();
    }
    return "(read)";
  }
  flx::test::TempDir dir_;
};

TEST_F(LoraWeightsTest, PeftKeysWithAndWithoutThePrefixAndAlpha) {
  const LoraWeights lora = Read({
      view_of("transformer.proj_out.lora_A.weight", at::ones({4, 8})),
      view_of("transformer.proj_out.lora_B.weight", at::ones({6, 4})),
      view_of("transformer.proj_out.alpha", at::scalar_tensor(8.0)),
      view_of("x_embedder.lora_A.weight", at::ones({2, 8})),
      view_of("x_embedder.lora_B.weight", at::ones({6, 2})),
      view_of("text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_A.weight", at::ones({2, 3})),
  });
  EXPECT_EQ(lora.format, "peft");
  ASSERT_EQ(lora.pairs.size(), 2u);
  EXPECT_EQ(lora.pairs[0].modules, std::vector<std::string>{"proj_out"});
  EXPECT_DOUBLE_EQ(lora.pairs[0].scaling, 2.0) << "alpha / rank";
  EXPECT_EQ(lora.pairs[1].modules, std::vector<std::string>{"x_embedder"});
  EXPECT_DOUBLE_EQ(lora.pairs[1].scaling, 1.0) << "no alpha: scale 1";
  EXPECT_EQ(lora.ignored.size(), 1u);
}

// alpha / rank = 1/8: diffusers doubles scale_down while halving scale_up until
// scale_down * 2 >= scale_up: 0.125 -> 0.25 and 0.5.
TEST_F(LoraWeightsTest, KohyaSplitsAlphaOverRankBetweenTheMatrices) {
  const LoraWeights lora = Read({
      view_of("lora_unet_single_blocks_3_linear2.lora_down.weight", at::ones({8, 5})),
      view_of("lora_unet_single_blocks_3_linear2.lora_up.weight", at::ones({7, 8})),
      view_of("lora_unet_single_blocks_3_linear2.alpha", at::scalar_tensor(1.0)),
  });
  EXPECT_EQ(lora.format, "kohya");
  ASSERT_EQ(lora.pairs.size(), 1u);
  EXPECT_EQ(lora.pairs[0].modules,
            std::vector<std::string>{"single_transformer_blocks.3.proj_out"});
  EXPECT_FLOAT_EQ(lora.pairs[0].down[0][0].item<float>(), 0.25f);
  EXPECT_FLOAT_EQ(lora.pairs[0].up[0][0].item<float>(), 0.5f);
  EXPECT_DOUBLE_EQ(lora.pairs[0].scaling, 1.0);
}

TEST_F(LoraWeightsTest, KohyaFusedLayersNameEveryPart) {
  const LoraWeights lora = Read({
      view_of("lora_unet_single_blocks_0_linear1.lora_down.weight", at::ones({4, 5})),
      view_of("lora_unet_single_blocks_0_linear1.lora_up.weight", at::ones({9, 4})),
      view_of("lora_unet_single_blocks_0_linear1.alpha", at::scalar_tensor(4.0)),
  });
  ASSERT_EQ(lora.pairs.size(), 1u);
  EXPECT_EQ(lora.pairs[0].modules,
            (std::vector<std::string>{
                "single_transformer_blocks.0.attn.to_q", "single_transformer_blocks.0.attn.to_k",
                "single_transformer_blocks.0.attn.to_v", "single_transformer_blocks.0.proj_mlp"}));
}

TEST_F(LoraWeightsTest, ErrorsNameTheKey) {
  EXPECT_NE(Error({view_of("transformer.proj_out.lora_A.weight", at::ones({4, 8}))})
                .find("\"transformer.proj_out.lora_A.weight\" has no partner"),
            std::string::npos);
  EXPECT_NE(Error({view_of("transformer.proj_out.lora_A.weight", at::ones({4, 8})),
                   view_of("transformer.proj_out.lora_B.weight", at::ones({6, 3}))})
                .find("has rank 4 in its down/A matrix but 3"),
            std::string::npos);
  EXPECT_NE(Error({view_of("transformer.proj_out.lora_A.weight", at::ones({4, 8})),
                   view_of("transformer.proj_out.lora_B.weight", at::ones({6, 4})),
                   view_of("transformer.proj_out.hada_w1_a", at::ones({2, 2}))})
                .find("\"transformer.proj_out.hada_w1_a\" is not a LoRA key"),
            std::string::npos);
  EXPECT_NE(Error({view_of("lora_unet_final_layer_linear.lora_down.weight", at::ones({4, 8})),
                   view_of("lora_unet_final_layer_linear.lora_up.weight", at::ones({6, 4}))})
                .find("names no FLUX transformer layer"),
            std::string::npos);
  EXPECT_NE(Error({view_of("text_encoder.x.lora_A.weight", at::ones({2, 3}))})
                .find("no LoRA matrices for the transformer"),
            std::string::npos);
}

}  // namespace
}  // namespace flx::flux
