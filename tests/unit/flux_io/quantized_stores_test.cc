// Stores over quantized files: scaled-fp8 folding, llama.cpp T5 names, GGUF single files.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "io/checkpoint.h"
#include "io/fp8_scales.h"
#include "io/t5_gguf_mapping.h"
#include "support/golden.h"

namespace flx::flux {
namespace {

TensorView f32_scalar(const std::string& name, float value) {
  return make_owned_tensor(name, DType::F32, {}, &value, sizeof value);
}

TensorView fp8_weight(const std::string& name) {
  const uint8_t codes[4] = {0x38, 0x40, 0xB8, 0x00};  // 1, 2, -1, 0
  return make_owned_tensor(name, DType::F8_E4M3, {2, 2}, codes, sizeof codes);
}

TEST(Fp8Scales, ScalesFoldIntoTheirWeightsAndMarkersGo) {
  TensorStore store("scaled.safetensors");
  store.add(fp8_weight("a.weight"));
  store.add(f32_scalar("a.scale_weight", 0.5f));
  store.add(f32_scalar("a.scale_input", 3.0f));
  store.add(make_owned_tensor("scaled_fp8", DType::F8_E4M3, {0}, nullptr, 0));
  store.add(fp8_weight("b.weight"));
  store.add(fp8_weight("c.weight"));  // newer ComfyUI spelling
  store.add(f32_scalar("c.weight_scale", 0.25f));
  store.add(f32_scalar("c.input_scale", 2.0f));
  store.add(make_owned_tensor("model.diffusion_model.scaled_fp8", DType::F8_E4M3, {0}, nullptr, 0));
  const float bias[2] = {1, 2};
  store.add(make_owned_tensor("a.bias", DType::F32, {2}, bias, sizeof bias));
  TensorStore folded = fold_fp8_scales(store);
  EXPECT_EQ(folded.names(),
            (std::vector<std::string>{"a.bias", "a.weight", "b.weight", "c.weight"}));
  EXPECT_EQ(folded.get("c.weight").scale, 0.25f);
  EXPECT_EQ(folded.get("a.weight").scale, 0.5f);
  EXPECT_EQ(folded.get("b.weight").scale, 1.0f);  // unscaled fp8
  EXPECT_EQ(folded.description(), "scaled.safetensors");
}

TEST(Fp8Scales, BadScalesNameTheTensor) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), 0.0f, -1.0f,
                    std::numeric_limits<float>::infinity()}) {
    TensorStore store("bad.safetensors");
    store.add(fp8_weight("layer.weight"));
    store.add(f32_scalar("layer.scale_weight", bad));
    try {
      fold_fp8_scales(store);
      FAIL() << "accepted scale " << bad;
    } catch (const LoadError& e) {
      EXPECT_NE(std::string(e.what()).find("bad.safetensors: tensor layer.scale_weight"),
                std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("not a finite positive number"), std::string::npos);
    }
  }
  TensorStore orphan("orphan.safetensors");
  orphan.add(f32_scalar("gone.scale_weight", 1.0f));
  EXPECT_THROW(fold_fp8_scales(orphan), LoadError);
  TensorStore not_fp8("f32.safetensors");
  const float w[4] = {1, 2, 3, 4};
  not_fp8.add(make_owned_tensor("x.weight", DType::F32, {2, 2}, w, sizeof w));
  not_fp8.add(f32_scalar("x.scale_weight", 1.0f));
  EXPECT_THROW(fold_fp8_scales(not_fp8), LoadError);
}

TEST(LlamaCppT5, NamesMapToTransformers) {
  TensorStore store("t5.gguf");
  const float one = 1;
  for (const char* name : {"token_embd.weight", "enc.blk.0.attn_q.weight", "enc.blk.0.attn_rel_b.weight",
                           "enc.blk.11.ffn_gate.weight", "enc.blk.11.ffn_up.weight",
                           "enc.blk.11.ffn_down.weight", "enc.output_norm.weight"}) {
    store.add(make_owned_tensor(name, DType::F32, {1}, &one, 4));
  }
  ASSERT_TRUE(is_llama_cpp_t5(store));
  TensorStore mapped = map_llama_cpp_t5(store);
  for (const char* name : {"shared.weight", "encoder.block.0.layer.0.SelfAttention.q.weight",
                           "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                           "encoder.block.11.layer.1.DenseReluDense.wi_0.weight",
                           "encoder.block.11.layer.1.DenseReluDense.wi_1.weight",
                           "encoder.block.11.layer.1.DenseReluDense.wo.weight",
                           "encoder.final_layer_norm.weight"}) {
    EXPECT_TRUE(mapped.contains(name)) << name;
  }
  EXPECT_NE(mapped.source_of("shared.weight").find("token_embd.weight"), std::string::npos);
}

TEST(LlamaCppT5, DecoderTensorsAreRefusedByName) {
  TensorStore store("full-t5.gguf");
  const float one = 1;
  store.add(make_owned_tensor("enc.blk.0.attn_q.weight", DType::F32, {1}, &one, 4));
  store.add(make_owned_tensor("dec.blk.0.attn_q.weight", DType::F32, {1}, &one, 4));
  try {
    map_llama_cpp_t5(store);
    FAIL();
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor dec.blk.0.attn_q.weight"), std::string::npos);
  }
}

TEST(QuantizedFiles, GoldenGgufAndFp8TransformersResolveAgainstTheBase) {
  FLX_GOLDEN_OR_SKIP(golden, "");
  const std::string files = golden + "/tiny-flux-quant/files/";
  for (const char* file : {"flux1-small-schnell-Q8_0.gguf", "flux1-small-schnell-Q4_K.gguf",
                           "flux1-small-schnell-fp8-e4m3fn-scaled.safetensors"}) {
    ModelPaths paths = resolve_model(files + file, "", golden + "/tiny-flux");
    TensorStore weights = open_transformer_weights(paths);
    EXPECT_TRUE(weights.contains("x_embedder.weight")) << file;
    EXPECT_TRUE(weights.contains("transformer_blocks.0.attn.to_q.weight")) << file;
    EXPECT_FALSE(weights.contains("scaled_fp8")) << file;
  }
  ModelPaths paths = resolve_model(golden + "/tiny-flux", "", "",
                                   files + "t5-encoder-small-schnell-Q8_0.gguf");
  TensorStore t5 = open_text_encoder_2_weights(paths);
  EXPECT_EQ(t5.get("shared.weight").dtype, DType::Q8_0);
  EXPECT_TRUE(t5.contains("encoder.block.1.layer.1.DenseReluDense.wi_1.weight"));
}

}  // namespace
}  // namespace flx::flux
