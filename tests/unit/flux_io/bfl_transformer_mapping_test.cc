#include "io/bfl_transformer_mapping.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "io/safetensors.h"
#include "support/golden.h"

namespace flx::flux {
namespace {

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const LoadError& error) {
    return error.what();
  }
  return "<no LoadError>";
}

// Floats 0, 1, 2, ... so every row is distinguishable.
TensorView counting(const std::string& name, std::vector<int64_t> shape) {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  std::vector<float> values(static_cast<size_t>(count));
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  return make_owned_tensor(name, DType::F32, std::move(shape), values.data(), values.size() * 4);
}

std::vector<float> floats_of(const TensorView& view) {
  std::vector<float> values(view.nbytes / 4);
  std::memcpy(values.data(), view.data, view.nbytes);
  return values;
}

// The strong test: the black-forest-labs file of the golden model, mapped, must be the golden
// diffusers transformer exactly: same names, dtypes, shapes and bytes.
TEST(BflTransformerMapping, GoldenBflFileMapsToTheGoldenDiffusersTransformerBitForBit) {
  FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
  const TensorStore bfl =
      TensorStore::from_file(model_dir + "/flux1-small-schnell-bfl.safetensors");
  const TensorStore expected =
      TensorStore::from_file(model_dir + "/transformer/diffusion_pytorch_model.safetensors");
  ASSERT_TRUE(is_bfl_transformer(bfl));
  ASSERT_FALSE(is_bfl_transformer(expected));

  const TensorStore mapped = map_bfl_transformer(bfl);
  ASSERT_EQ(mapped.names(), expected.names());
  EXPECT_EQ(mapped.total_bytes(), expected.total_bytes());
  for (const std::string& name : expected.names()) {
    SCOPED_TRACE(name);
    const TensorView& want = expected.get(name);
    const TensorView& got = mapped.get(name);
    EXPECT_EQ(got.name, name);
    EXPECT_EQ(got.dtype, want.dtype);
    ASSERT_EQ(got.shape, want.shape);
    ASSERT_EQ(got.nbytes, want.nbytes);
    EXPECT_EQ(std::memcmp(got.data, want.data, want.nbytes), 0) << "bytes differ";
  }
}

TEST(BflTransformerMapping, FusedProjectionsBecomeZeroCopyRowViews) {
  FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
  const TensorStore bfl =
      TensorStore::from_file(model_dir + "/flux1-small-schnell-bfl.safetensors");
  const TensorStore mapped = map_bfl_transformer(bfl);
  const TensorView& qkv = bfl.get("double_blocks.1.txt_attn.qkv.weight");
  const size_t third = qkv.nbytes / 3;
  const auto* base = static_cast<const unsigned char*>(qkv.data);
  EXPECT_EQ(mapped.get("transformer_blocks.1.attn.add_q_proj.weight").data, base);
  EXPECT_EQ(mapped.get("transformer_blocks.1.attn.add_k_proj.weight").data, base + third);
  EXPECT_EQ(mapped.get("transformer_blocks.1.attn.add_v_proj.weight").data, base + 2 * third);
  const TensorView& linear1 = bfl.get("single_blocks.0.linear1.weight");
  const TensorView& mlp = mapped.get("single_transformer_blocks.0.proj_mlp.weight");
  EXPECT_EQ(static_cast<const unsigned char*>(mlp.data) + mlp.nbytes,
            static_cast<const unsigned char*>(linear1.data) + linear1.nbytes)
      << "proj_mlp must be the trailing rows of linear1";
  EXPECT_EQ(mapped.get("x_embedder.weight").owner, qkv.owner) << "renames share the mapping";
}

// A minimal black-forest-labs transformer: hidden 2, one double and one single block.
TensorStore tiny_bfl_store(const std::string& prefix) {
  TensorStore store("tiny.safetensors");
  for (const TensorView& view : {
           counting("img_in.weight", {2, 4}),
           counting("guidance_in.in_layer.bias", {3}),
           counting("double_blocks.0.img_attn.qkv.weight", {6, 2}),
           counting("double_blocks.0.img_attn.norm.query_norm.scale", {1}),
           counting("single_blocks.0.linear1.bias", {10}),
           counting("final_layer.adaLN_modulation.1.bias", {4}),
       }) {
    TensorView renamed = view;
    renamed.name = prefix + view.name;
    store.add(renamed);
  }
  return store;
}

TEST(BflTransformerMapping, RenamesSplitsAndSwapsByTheDiffusersRules) {
  for (const std::string prefix : {"", "model.diffusion_model."}) {
    SCOPED_TRACE("prefix '" + prefix + "'");
    const TensorStore bfl = tiny_bfl_store(prefix);
    ASSERT_TRUE(is_bfl_transformer(bfl));
    const TensorStore mapped = map_bfl_transformer(bfl);
    EXPECT_EQ(mapped.names(), (std::vector<std::string>{
                                  "norm_out.linear.bias",
                                  "single_transformer_blocks.0.attn.to_k.bias",
                                  "single_transformer_blocks.0.attn.to_q.bias",
                                  "single_transformer_blocks.0.attn.to_v.bias",
                                  "single_transformer_blocks.0.proj_mlp.bias",
                                  "time_text_embed.guidance_embedder.linear_1.bias",
                                  "transformer_blocks.0.attn.norm_q.weight",
                                  "transformer_blocks.0.attn.to_k.weight",
                                  "transformer_blocks.0.attn.to_q.weight",
                                  "transformer_blocks.0.attn.to_v.weight",
                                  "x_embedder.weight",
                              }));
    EXPECT_EQ(floats_of(mapped.get("transformer_blocks.0.attn.to_k.weight", {2, 2})),
              (std::vector<float>{4, 5, 6, 7}));
    EXPECT_EQ(floats_of(mapped.get("single_transformer_blocks.0.attn.to_v.bias", {2})),
              (std::vector<float>{4, 5}));
    EXPECT_EQ(floats_of(mapped.get("single_transformer_blocks.0.proj_mlp.bias", {4})),
              (std::vector<float>{6, 7, 8, 9}));
    EXPECT_EQ(floats_of(mapped.get("norm_out.linear.bias", {4})), (std::vector<float>{2, 3, 0, 1}))
        << "(shift, scale) must become (scale, shift)";
  }
}

TEST(BflTransformerMapping, ErrorsNameTheFileAndTensor) {
  struct Case {
    const char* label;
    std::vector<TensorView> tensors;
    std::string expected;
  };
  const Case cases[] = {
      {"unknown key",
       {counting("img_in.weight", {2, 4}), counting("double_blocks.0.img_attn.lora.weight", {2})},
       "tiny.safetensors: tensor double_blocks.0.img_attn.lora.weight is not part of the "
       "black-forest-labs FLUX transformer layout"},
      {"norm without scale",
       {counting("double_blocks.0.img_attn.norm.query_norm.weight", {2})},
       "tiny.safetensors: tensor double_blocks.0.img_attn.norm.query_norm.weight is not part"},
      {"qkv rows not divisible by three",
       {counting("double_blocks.3.txt_attn.qkv.weight", {7, 2})},
       "tiny.safetensors: tensor double_blocks.3.txt_attn.qkv.weight has shape [7,2], expected "
       "rows divisible by 3"},
      {"linear1 without MLP rows",
       {counting("img_in.weight", {2, 4}), counting("single_blocks.0.linear1.weight", {6, 2})},
       "tiny.safetensors: tensor single_blocks.0.linear1.weight has shape [6,2], expected more "
       "than 3 x hidden = 6 rows"},
      {"linear1 without img_in",
       {counting("single_blocks.0.linear1.weight", {10, 2})},
       "tiny.safetensors: tensor img_in.weight not found"},
      {"odd modulation rows",
       {counting("final_layer.adaLN_modulation.1.weight", {3, 2})},
       "tiny.safetensors: tensor final_layer.adaLN_modulation.1.weight has shape [3,2], expected "
       "an even number of rows"},
      {"same tensor with and without prefix",
       {counting("img_in.weight", {2, 4}), counting("model.diffusion_model.img_in.weight", {2, 4})},
       "tiny.safetensors: tensor model.diffusion_model.img_in.weight maps to x_embedder.weight, "
       "which another tensor already provides"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    TensorStore store("tiny.safetensors");
    for (const TensorView& view : c.tensors) store.add(view);
    const std::string message = error_of([&] { map_bfl_transformer(store); });
    EXPECT_EQ(message.rfind(c.expected, 0), 0u) << message;
  }
}

}  // namespace
}  // namespace flx::flux
