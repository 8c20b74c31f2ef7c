#include "demo_weights.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "demo_model_spec.h"
#include "io/bfl_transformer_mapping.h"
#include "io/safetensors.h"
#include "io/tensor_store.h"
#include "support/golden.h"

namespace flx::flux::demo {
namespace {

std::map<std::string, std::vector<int64_t>> Shapes(const std::vector<TensorSpec>& specs) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const TensorSpec& spec : specs) {
    EXPECT_TRUE(shapes.emplace(spec.name, spec.shape).second) << spec.name << " repeats";
  }
  return shapes;
}

std::map<std::string, std::vector<int64_t>> Shapes(const std::string& file) {
  std::map<std::string, std::vector<int64_t>> shapes;
  const auto st = SafetensorsFile::open(file);
  for (const std::string& name : st->names()) shapes[name] = st->get(name).shape;
  return shapes;
}

// Every name present on one side only, and every shape that differs.
std::string Differences(const std::map<std::string, std::vector<int64_t>>& ours,
                        const std::map<std::string, std::vector<int64_t>>& golden) {
  std::string out;
  for (const auto& [name, shape] : ours) {
    auto it = golden.find(name);
    if (it == golden.end()) {
      out += "only ours: " + name + "\n";
    } else if (it->second != shape) {
      out += name + ": ours " + shape_string(shape) + ", golden " + shape_string(it->second) + "\n";
    }
  }
  for (const auto& [name, shape] : golden) {
    if (ours.count(name) == 0) out += "only golden: " + name + "\n";
  }
  return out;
}

// The golden tiny-flux checkpoint's sizes (its README), written with our layouts.
TEST(DemoWeightsTest, LayoutsMatchTheGoldenCheckpointTensorForTensor) {
  FLX_GOLDEN_OR_SKIP(dir, "tiny-flux");
  const ClipTextSpec clip{49408, 32, 128, 2, 2, 77};
  const T5Spec t5{32128, 64, 16, 160, 2, 4, 32, 128};
  TransformerSpec transformer;
  transformer.num_layers = 2;
  transformer.num_single_layers = 2;
  transformer.attention_head_dim = 64;
  transformer.num_attention_heads = 2;
  transformer.joint_attention_dim = 64;
  transformer.pooled_projection_dim = 32;
  transformer.axes_dims_rope = {8, 28, 28};
  VaeSpec vae;
  vae.block_out_channels = {32, 64, 64};
  vae.layers_per_block = 1;
  vae.norm_num_groups = 16;

  EXPECT_EQ(
      Differences(Shapes(clip_text_tensors(clip)), Shapes(dir + "/text_encoder/model.safetensors")),
      "");
  EXPECT_EQ(Differences(Shapes(t5_encoder_tensors(t5)),
                        Shapes(dir + "/text_encoder_2/model.safetensors")),
            "");
  EXPECT_EQ(Differences(Shapes(transformer_tensors(transformer)),
                        Shapes(dir + "/transformer/diffusion_pytorch_model.safetensors")),
            "");
  EXPECT_EQ(Differences(Shapes(vae_tensors(vae)),
                        Shapes(dir + "/vae/diffusion_pytorch_model.safetensors")),
            "");
}

TEST(DemoWeightsTest, GuidanceEmbeddingAddsItsTwoLinears) {
  TransformerSpec spec = demo_model_preset("tiny", 1000, 1000)->transformer;
  const auto without = Shapes(transformer_tensors(spec));
  spec.guidance_embeds = true;
  const auto with = Shapes(transformer_tensors(spec));
  EXPECT_EQ(with.size(), without.size() + 4);
  EXPECT_EQ(with.at("time_text_embed.guidance_embedder.linear_1.weight"),
            (std::vector<int64_t>{128, 256}));
}

int64_t Parameters(const DemoModelSpec& spec) {
  int64_t total = 0;
  for (const auto& specs : {clip_text_tensors(spec.clip), t5_encoder_tensors(spec.t5),
                            transformer_tensors(spec.transformer), vae_tensors(spec.vae)}) {
    for (const TensorSpec& t : specs) total += t.numel();
  }
  return total;
}

TEST(DemoWeightsTest, FullTextEncodersAreClipLAndT5Xxl) {
  DemoModelSpec schnell = *demo_model_preset("schnell", 955, 640);
  use_full_text_encoders(&schnell);
  EXPECT_EQ(schnell.clip.num_hidden_layers, 12);
  EXPECT_EQ(schnell.t5.num_layers, 24);
  int64_t clip = 0, t5 = 0;
  for (const TensorSpec& t : clip_text_tensors(schnell.clip)) clip += t.numel();
  for (const TensorSpec& t : t5_encoder_tensors(schnell.t5)) t5 += t.numel();
  // The parameter counts of openai/clip-vit-large-patch14's text model and T5 v1.1 XXL's
  // encoder (transformers' num_parameters()).
  EXPECT_EQ(clip, 123'060'480);
  EXPECT_EQ(t5, 4'762'310'656);
  DemoModelSpec tiny = *demo_model_preset("tiny", 955, 640);
  EXPECT_THROW(use_full_text_encoders(&tiny), std::invalid_argument);
}

// The black-forest-labs layout, read through the loader's mapping, is the diffusers layout
// tensor for tensor: the quantized demo files load like FLUX.1's.
TEST(DemoWeightsTest, BlackForestLabsLayoutMapsOntoTheDiffusersOne) {
  for (bool guidance : {false, true}) {
    DemoModelSpec spec = *demo_model_preset("tiny", 955, 640);
    spec.transformer.guidance_embeds = guidance;
    TensorStore bfl("bfl demo");
    for (const TensorSpec& t : bfl_transformer_tensors(spec.transformer)) {
      bfl.add(make_tensor(t, 0, "transformer"));
    }
    ASSERT_TRUE(is_bfl_transformer(bfl));
    const TensorStore mapped = map_bfl_transformer(bfl);
    std::map<std::string, std::vector<int64_t>> mapped_shapes;
    for (const std::string& name : mapped.names()) mapped_shapes[name] = mapped.get(name).shape;
    EXPECT_EQ(mapped_shapes, Shapes(transformer_tensors(spec.transformer)))
        << "guidance " << guidance;
  }
}

TEST(DemoWeightsTest, PresetsHaveTheAdvertisedSizes) {
  const int64_t tiny = Parameters(*demo_model_preset("tiny", 955, 640));
  EXPECT_GT(tiny, 2'500'000);
  EXPECT_LT(tiny, 4'000'000);
  const std::optional<DemoModelSpec> wide = demo_model_preset("wide", 955, 640);
  const int64_t wide_parameters = Parameters(*wide);
  EXPECT_GT(wide_parameters, 1'100'000'000);
  EXPECT_LT(wide_parameters, 1'160'000'000);
  EXPECT_EQ(wide->transformer.inner_dim(), 3072) << "FLUX.1's hidden size";
  EXPECT_EQ(wide->t5.vocab_size, 32128) << "T5-XXL's embedding rows";
  const std::optional<DemoModelSpec> schnell = demo_model_preset("schnell", 955, 640);
  ASSERT_TRUE(schnell.has_value());
  EXPECT_EQ(schnell->transformer.num_layers, 19);
  EXPECT_EQ(schnell->transformer.num_single_layers, 38);
  const int64_t transformer = [&] {
    int64_t total = 0;
    for (const TensorSpec& t : transformer_tensors(schnell->transformer)) total += t.numel();
    return total;
  }();
  EXPECT_NEAR(static_cast<double>(transformer), 11.9e9, 0.05e9) << "FLUX.1's transformer";
  EXPECT_FALSE(demo_model_preset("huge", 955, 640).has_value());
}

TEST(DemoWeightsTest, BfloatRoundsToNearestEven) {
  EXPECT_EQ(to_bfloat16(1.0f), 0x3f80);
  EXPECT_EQ(to_bfloat16(-2.0f), 0xc000);
  // 1 + 2^-8 lies halfway between bfloat16 1.0 and 1.0078125: ties go to the even 1.0.
  EXPECT_EQ(to_bfloat16(1.00390625f), 0x3f80);
  // A little above halfway rounds up.
  EXPECT_EQ(to_bfloat16(1.0040000f), 0x3f81);
  // 1.0078125 + 2^-8 is halfway between 0x3f81 and 0x3f82: the even one is 0x3f82.
  EXPECT_EQ(to_bfloat16(1.01171875f), 0x3f82);
  EXPECT_EQ(to_bfloat16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(to_bfloat16(std::numeric_limits<float>::quiet_NaN()) & 0x7fc0, 0x7fc0);
}

TEST(DemoWeightsTest, BfloatTensorsHoldTheRoundedFloatValues) {
  TensorSpec spec;
  spec.name = "w";
  spec.shape = {4, 8};
  spec.init = TensorInit{0.02, 0};
  const TensorView f32 = make_tensor(spec, 3, "c");
  const TensorView bf16 = make_tensor(spec, 3, "c", DType::BF16);
  EXPECT_EQ(bf16.dtype, DType::BF16);
  EXPECT_EQ(bf16.nbytes, f32.nbytes / 2);
  const float* floats = static_cast<const float*>(f32.data);
  const uint16_t* halves = static_cast<const uint16_t*>(bf16.data);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(halves[i], to_bfloat16(floats[i])) << i;
  EXPECT_THROW(make_tensor(spec, 3, "c", DType::F16), std::invalid_argument);
}

float Stddev(const TensorView& view) {
  const float* values = static_cast<const float*>(view.data);
  double sum = 0, squares = 0;
  const int64_t n = view.numel();
  for (int64_t i = 0; i < n; ++i) {
    sum += values[i];
    squares += double(values[i]) * values[i];
  }
  const double mean = sum / n;
  return static_cast<float>(std::sqrt(squares / n - mean * mean));
}

TEST(DemoWeightsTest, ValuesAreSeededPerTensorAndScaledByFanIn) {
  const TensorSpec linear{"blocks.0.proj.weight", {256, 1024}, {1.0 / 32, 0}};
  const TensorView a = make_tensor(linear, 7, "transformer");
  const TensorView b = make_tensor(linear, 7, "transformer");
  ASSERT_EQ(a.nbytes, 256u * 1024u * sizeof(float));
  EXPECT_EQ(a.dtype, DType::F32);
  EXPECT_EQ(a.shape, linear.shape);
  EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << "same seed, same values";
  const TensorView other_seed = make_tensor(linear, 8, "transformer");
  const TensorView other_component = make_tensor(linear, 7, "vae");
  EXPECT_NE(std::memcmp(a.data, other_seed.data, a.nbytes), 0);
  EXPECT_NE(std::memcmp(a.data, other_component.data, a.nbytes), 0);
  EXPECT_NEAR(Stddev(a), 1.0 / 32, 0.02 / 32);

  const TensorView ones = make_tensor({"norm.weight", {5}, {0, 1.0f}}, 7, "vae");
  const float* values = static_cast<const float*>(ones.data);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(values[i], 1.0f) << i;
}

}  // namespace
}  // namespace flx::flux::demo
