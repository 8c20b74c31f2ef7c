#include "model/weights_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace flx::flux {
namespace {

// A transformer-like store: two block matrices, an input projection kept float by the
// policy, and a 1-D norm, all float32 (a [2, 64] matrix is 512 B, its Q8_0 form 136 B).
TensorStore block_store() {
  const std::vector<float> values(128, 0.5f);
  TensorStore store("unit store");
  for (const std::string name : {"transformer_blocks.0.attn.weight",
                                 "single_transformer_blocks.0.proj.weight", "x_embedder.weight"}) {
    store.add(make_owned_tensor(name, DType::F32, {2, 64}, values.data(), 512));
  }
  store.add(make_owned_tensor("norm_out.weight", DType::F32, {64}, values.data(), 256));
  return store;
}

const QuantizeOnLoad kQ8{DType::Q8_0, {"x_embedder"}};
const c10::Device kCuda(c10::kCUDA, 0);

TEST(WeightsPlanTest, OnTheCpuEveryByteCountsAndOffloadChangesNothing) {
  WeightsPlan plan;
  plan.add(block_store(), "transformer", at::kFloat, kQ8);
  const ComponentWeights& weights = plan.components().at("transformer");
  EXPECT_EQ(weights.bytes, 2 * 136 + 512 + 256);
  EXPECT_EQ(weights.dense_bytes, 512 + 256);
  EXPECT_EQ(weights.largest_expansion_bytes, 512);
  EXPECT_EQ(weights.tensor_types.at("Q8_0"), 2);
  for (const OffloadMode mode :
       {OffloadMode::kNone, OffloadMode::kModel, OffloadMode::kSequential}) {
    EXPECT_EQ(plan.peak_bytes(mode, false), plan.total_bytes());
  }
}

TEST(WeightsPlanTest, OnAnAcceleratorQuantizedMatricesStayOnTheHost) {
  WeightsPlan plan(kCuda);
  plan.add(block_store(), "transformer", at::kFloat, kQ8);
  // Dense: x_embedder and the norm; plus one expanded [2, 64] matrix per call.
  EXPECT_EQ(plan.peak_bytes(OffloadMode::kNone, false), 768 + 512);
  EXPECT_EQ(plan.peak_bytes(OffloadMode::kSequential, false), 768 + 512)
      << "the blocks hold nothing dense";
  EXPECT_EQ(plan.components().at("transformer").file_backed_bytes, 0)
      << "nothing is a view into the file when the weights live on a device";
}

TEST(WeightsPlanTest, OffloadModesCountWhatTheyPutOnTheDevice) {
  WeightsPlan plan(kCuda);
  plan.add(block_store(), "transformer", at::kFloat, QuantizeOnLoad{});
  plan.add(block_store(), "text_encoder_2", at::kBFloat16, QuantizeOnLoad{});
  const ComponentWeights& transformer = plan.components().at("transformer");
  EXPECT_EQ(transformer.dense_bytes, 3 * 512 + 256);
  EXPECT_EQ(transformer.block_dense_bytes.size(), 2u);
  EXPECT_EQ(transformer.block_dense_bytes.at("single_transformer_blocks.0."), 512);
  // bfloat16 halves the second component: 896 B.
  EXPECT_EQ(plan.peak_bytes(OffloadMode::kNone, false), 1792 + 896);
  EXPECT_EQ(plan.peak_bytes(OffloadMode::kAuto, false), 1792 + 896) << "auto counts as none";
  EXPECT_EQ(plan.peak_bytes(OffloadMode::kModel, false), 1792);
  // Outside the blocks 768 + one 512 block.
  EXPECT_EQ(plan.peak_bytes(OffloadMode::kSequential, false), 1280);
}

}  // namespace
}  // namespace flx::flux
