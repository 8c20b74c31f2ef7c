// `fluxserve quantize` against the published-convention files in ../shared/golden/
// tiny-flux-quant: quantizing the float golden checkpoint must give the same tensors (names,
// types, shapes, bytes) as the reference GGUFs, which follow ComfyUI-GGUF's and llama.cpp's
// type policies and ggml's quantizers.
#include "io/checkpoint_quantizer.h"

#include <gtest/gtest.h>

#include <cstring>

#include "io/gguf.h"
#include "support/golden.h"
#include "support/temp_dir.h"

namespace flx::flux {
namespace {

using flx::test::TempDir;

// Every tensor of `expected` is in `ours` with the same type, shape and bytes, and nothing else.
void ExpectSameTensors(const GgufFile& ours, const GgufFile& expected) {
  EXPECT_EQ(ours.tensor_names().size(), expected.tensor_names().size());
  for (const std::string& name : expected.tensor_names()) {
    const TensorView* theirs = expected.find(name);
    const TensorView* mine = ours.find(name);
    ASSERT_NE(mine, nullptr) << name;
    EXPECT_EQ(mine->dtype, theirs->dtype) << name << ": " << dtype_name(mine->dtype) << " vs "
                                          << dtype_name(theirs->dtype);
    EXPECT_EQ(mine->shape, theirs->shape) << name;
    if (mine->nbytes == theirs->nbytes) {
      EXPECT_EQ(std::memcmp(mine->data, theirs->data, mine->nbytes), 0) << name;
    }
  }
}

class CheckpointQuantizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto golden = flx::test::golden_dir("tiny-flux-quant");
    if (!golden) GTEST_SKIP() << "golden data not found (set FLX_GOLDEN_DIR)";
    quant_ = *golden;
    base_ = *flx::test::golden_dir("tiny-flux");
  }
  std::string quant_, base_;
  TempDir dir_;
};

TEST_F(CheckpointQuantizerTest, BflTransformerGivesTheReferenceGgufs) {
  const TensorStore store = TensorStore::from_file(base_ + "/flux1-small-schnell-bfl.safetensors");
  for (const auto& [type, file] : {std::pair<DType, const char*>{DType::Q8_0, "Q8_0"},
                                   std::pair<DType, const char*>{DType::Q4_K, "Q4_K"}}) {
    SCOPED_TRACE(file);
    const QuantizationPlan plan = plan_quantization(store, type, "test");
    EXPECT_EQ(plan.kind, CheckpointKind::kFluxTransformer);
    const std::string out = dir_.file(std::string(file) + ".gguf");
    write_quantized_checkpoint(store, plan, out);
    auto ours = GgufFile::open(out);
    EXPECT_EQ(ours->string_value("general.architecture"), "flux");
    ExpectSameTensors(*ours, *GgufFile::open(quant_ + "/files/flux1-small-schnell-" + file + ".gguf"));
  }
}

TEST_F(CheckpointQuantizerTest, T5EncoderGetsLlamaCppNamesAndTypes) {
  const TensorStore store = TensorStore::from_file(base_ + "/text_encoder_2/model.safetensors");
  const QuantizationPlan plan = plan_quantization(store, DType::Q8_0, "t5");
  EXPECT_EQ(plan.kind, CheckpointKind::kT5Encoder);
  const std::string out = dir_.file("t5.gguf");
  write_quantized_checkpoint(store, plan, out);
  auto ours = GgufFile::open(out);
  EXPECT_EQ(ours->string_value("general.architecture"), "t5encoder");
  ExpectSameTensors(*ours, *GgufFile::open(quant_ + "/files/t5-encoder-small-schnell-Q8_0.gguf"));
}

TEST_F(CheckpointQuantizerTest, WhatIsNeitherFluxNorT5IsRefusedByName) {
  TensorStore store("vae.safetensors");
  const float one = 1;
  store.add(make_owned_tensor("decoder.conv_in.weight", DType::F32, {1}, &one, 4));
  try {
    plan_quantization(store, DType::Q8_0, "x");
    FAIL();
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("vae.safetensors: neither a FLUX transformer"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace flx::flux
