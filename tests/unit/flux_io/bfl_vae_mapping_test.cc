#include "io/bfl_vae_mapping.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <regex>

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

// The black-forest-labs name of a diffusers AutoencoderKL key, written from
// flux/modules/autoencoder.py (Encoder.down[i].block[j], .downsample; Decoder.up[i] indexed from
// the lowest resolution; mid.block_1/attn_1/block_2; AttnBlock norm/q/k/v/proj_out;
// ResnetBlock nin_shortcut; norm_out) independently of the code under test.
std::string bfl_name(const std::string& diffusers, int up_levels) {
  std::smatch m;
  static const std::regex down_resnet(
      R"((encoder)\.down_blocks\.(\d+)\.resnets\.(\d+)\.(\w+)\.(\w+))");
  static const std::regex up_resnet(R"((decoder)\.up_blocks\.(\d+)\.resnets\.(\d+)\.(\w+)\.(\w+))");
  static const std::regex downsampler(
      R"(encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(\w+))");
  static const std::regex upsampler(R"(decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(\w+))");
  static const std::regex mid_resnet(R"((\w+)\.mid_block\.resnets\.(\d)\.(\w+)\.(\w+))");
  static const std::regex mid_attention(R"((\w+)\.mid_block\.attentions\.0\.(\w+)(\.0)?\.(\w+))");
  static const std::regex norm_out(R"((\w+)\.conv_norm_out\.(\w+))");
  auto member = [](const std::string& name) {
    return name == "conv_shortcut" ? std::string("nin_shortcut") : name;
  };
  if (std::regex_match(diffusers, m, down_resnet)) {
    return "encoder.down." + m[2].str() + ".block." + m[3].str() + "." + member(m[4]) + "." +
           m[5].str();
  }
  if (std::regex_match(diffusers, m, up_resnet)) {
    return "decoder.up." + std::to_string(up_levels - 1 - std::stoi(m[2])) + ".block." +
           m[3].str() + "." + member(m[4]) + "." + m[5].str();
  }
  if (std::regex_match(diffusers, m, downsampler)) {
    return "encoder.down." + m[1].str() + ".downsample.conv." + m[2].str();
  }
  if (std::regex_match(diffusers, m, upsampler)) {
    return "decoder.up." + std::to_string(up_levels - 1 - std::stoi(m[1])) + ".upsample.conv." +
           m[2].str();
  }
  if (std::regex_match(diffusers, m, mid_resnet)) {
    return m[1].str() + ".mid.block_" + std::to_string(std::stoi(m[2]) + 1) + "." + member(m[3]) +
           "." + m[4].str();
  }
  if (std::regex_match(diffusers, m, mid_attention)) {
    const std::string part = m[2];
    const std::string bfl = part == "group_norm" ? "norm"
                            : part == "to_out"   ? "proj_out"
                                                 : part.substr(3);
    return m[1].str() + ".mid.attn_1." + bfl + "." + m[4].str();
  }
  if (std::regex_match(diffusers, m, norm_out)) return m[1].str() + ".norm_out." + m[2].str();
  return diffusers;  // conv_in, conv_out, quant_conv, post_quant_conv keep their names
}

TEST(BflVaeMapping, GoldenVaeRoundTripsThroughTheBlackForestLabsLayout) {
  FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
  const TensorStore diffusers =
      TensorStore::from_file(model_dir + "/vae/diffusion_pytorch_model.safetensors");
  const int up_levels = 3;  // len(up_block_types) in the golden vae/config.json
  ASSERT_FALSE(is_bfl_vae(diffusers));

  std::vector<TensorView> bfl_tensors;
  for (const std::string& name : diffusers.names()) {
    TensorView view = diffusers.get(name);
    view.name = bfl_name(name, up_levels);
    const bool projection = name.find("mid_block.attentions.0.to_") != std::string::npos &&
                            name.find(".weight") != std::string::npos;
    if (projection) view.shape = {view.shape[0], view.shape[1], 1, 1};  // a 1x1 conv weight
    bfl_tensors.push_back(view);
  }
  TempDir dir;
  const std::string path = dir.file("ae.safetensors");
  write_safetensors(path, bfl_tensors, {});
  const TensorStore bfl = TensorStore::from_file(path);

  // The layout facts of autoencoder.py, so a wrong up-level reversal cannot pass: up.0 is the
  // highest resolution (ch * ch_mult[0] = 32 channels, fed 64) and has no upsample.
  ASSERT_TRUE(is_bfl_vae(bfl));
  EXPECT_FALSE(bfl.contains("decoder.up.0.upsample.conv.weight"));
  EXPECT_TRUE(bfl.contains("decoder.up.2.upsample.conv.weight"));
  EXPECT_FALSE(bfl.contains("encoder.down.2.downsample.conv.weight"));
  EXPECT_EQ(bfl.get("decoder.up.0.block.0.nin_shortcut.weight").shape,
            (std::vector<int64_t>{32, 64, 1, 1}));
  EXPECT_EQ(bfl.get("decoder.mid.attn_1.q.weight").shape, (std::vector<int64_t>{64, 64, 1, 1}));

  const TensorStore mapped = map_bfl_vae(bfl);
  ASSERT_EQ(mapped.names(), diffusers.names());
  for (const std::string& name : diffusers.names()) {
    SCOPED_TRACE(name);
    const TensorView& want = diffusers.get(name);
    const TensorView& got = mapped.get(name);
    EXPECT_EQ(got.dtype, want.dtype);
    ASSERT_EQ(got.shape, want.shape);
    ASSERT_EQ(got.nbytes, want.nbytes);
    EXPECT_EQ(std::memcmp(got.data, want.data, want.nbytes), 0);
  }
}

TensorView zeros(const std::string& name, std::vector<int64_t> shape) {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  std::vector<float> values(static_cast<size_t>(count));
  return make_owned_tensor(name, DType::F32, std::move(shape), values.data(), values.size() * 4);
}

TEST(BflVaeMapping, LatentDiffusionPrefixIsStrippedAndOtherKeysIgnored) {
  TensorStore store("sd.safetensors");
  store.add(zeros("first_stage_model.decoder.up.1.upsample.conv.bias", {4}));
  store.add(zeros("first_stage_model.decoder.up.0.block.0.conv1.bias", {4}));
  store.add(zeros("first_stage_model.encoder.mid.attn_1.proj_out.weight", {4, 4, 1}));
  store.add(zeros("model.diffusion_model.input_blocks.0.0.weight", {1}));
  ASSERT_TRUE(is_bfl_vae(store));
  const TensorStore mapped = map_bfl_vae(store);
  EXPECT_EQ(mapped.names(), (std::vector<std::string>{
                                "decoder.up_blocks.0.upsamplers.0.conv.bias",
                                "decoder.up_blocks.1.resnets.0.conv1.bias",
                                "encoder.mid_block.attentions.0.to_out.0.weight",
                            }));
  EXPECT_EQ(mapped.get("encoder.mid_block.attentions.0.to_out.0.weight").shape,
            (std::vector<int64_t>{4, 4}));
}

TEST(BflVaeMapping, ErrorsNameTheFileAndTensor) {
  struct Case {
    const char* label;
    TensorView tensor;
    std::string expected;
  };
  const Case cases[] = {
      {"unknown key", zeros("decoder.up.0.attn.0.q.weight", {2}),
       "ae.safetensors: tensor decoder.up.0.attn.0.q.weight is not part of the black-forest-labs "
       "autoencoder layout"},
      {"unknown resnet member", zeros("encoder.down.0.block.0.conv3.weight", {2}),
       "ae.safetensors: tensor encoder.down.0.block.0.conv3.weight is not part"},
      {"attention weight not square", zeros("decoder.mid.attn_1.k.weight", {4, 2, 1, 1}),
       "ae.safetensors: tensor decoder.mid.attn_1.k.weight has shape [4,2,1,1], expected "
       "[C,C,1,1]"},
      {"attention weight not 1x1", zeros("decoder.mid.attn_1.v.weight", {4, 4, 3, 3}),
       "ae.safetensors: tensor decoder.mid.attn_1.v.weight has shape [4,4,3,3]"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    TensorStore store("ae.safetensors");
    store.add(zeros("decoder.up.0.block.0.conv1.weight", {2}));
    store.add(c.tensor);
    const std::string message = error_of([&] { map_bfl_vae(store); });
    EXPECT_EQ(message.rfind(c.expected, 0), 0u) << message;
  }
}

}  // namespace
}  // namespace flx::flux
