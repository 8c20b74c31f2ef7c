#include "model/single_file_check.h"

#include <gtest/gtest.h>

#include <functional>

namespace flx::flux {
namespace {

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const LoadError& e) {
    return e.what();
  }
  return "<no LoadError>";
}

void add_zeros(TensorStore* store, const std::string& name, std::vector<int64_t> shape) {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  std::vector<float> zeros(static_cast<size_t>(count));
  store->add(make_owned_tensor(name, DType::F32, shape, zeros.data(), zeros.size() * 4), "t.gguf");
}

FluxTransformerConfig small_config() {
  FluxTransformerConfig config;
  config.in_channels = 4;
  config.num_attention_heads = 2;
  config.attention_head_dim = 4;
  config.joint_attention_dim = 6;
  config.num_layers = 1;
  config.num_single_layers = 2;
  return config;
}

TensorStore small_transformer() {
  TensorStore store("t.gguf");
  add_zeros(&store, "x_embedder.weight", {8, 4});
  add_zeros(&store, "context_embedder.weight", {8, 6});
  add_zeros(&store, "transformer_blocks.0.attn.to_q.weight", {8, 8});
  add_zeros(&store, "single_transformer_blocks.0.proj_out.weight", {8, 8});
  add_zeros(&store, "single_transformer_blocks.1.proj_out.weight", {8, 8});
  return store;
}

TEST(SingleFileCheck, AMatchingTransformerPasses) {
  EXPECT_EQ(error_of([] { check_transformer_file(small_transformer(), small_config(), "c.json"); }),
            "<no LoadError>");
}

TEST(SingleFileCheck, AnotherHiddenSizeNamesTheTensorAndTheConfig) {
  FluxTransformerConfig config = small_config();
  config.num_attention_heads = 3;
  const std::string message =
      error_of([&] { check_transformer_file(small_transformer(), config, "base/config.json"); });
  EXPECT_NE(message.find("t.gguf: tensor x_embedder.weight has shape [8,4], expected [12,4] "
                         "from base/config.json"),
            std::string::npos)
      << message;
}

TEST(SingleFileCheck, AnotherBlockCountIsRefused) {
  FluxTransformerConfig config = small_config();
  config.num_single_layers = 38;
  const std::string message =
      error_of([&] { check_transformer_file(small_transformer(), config, "c.json"); });
  EXPECT_NE(message.find("2 single_transformer_blocks.N blocks, but c.json has num_single_layers 38"),
            std::string::npos)
      << message;
}

TEST(SingleFileCheck, T5EmbeddingAndBlocks) {
  TensorStore store("t5.gguf");
  add_zeros(&store, "shared.weight", {10, 4});
  add_zeros(&store, "encoder.block.0.layer.0.SelfAttention.q.weight", {4, 4});
  T5Config config;
  config.vocab_size = 10;
  config.d_model = 4;
  config.num_layers = 1;
  EXPECT_EQ(error_of([&] { check_t5_file(store, config, "t5.json"); }), "<no LoadError>");
  config.num_layers = 24;
  EXPECT_NE(error_of([&] { check_t5_file(store, config, "t5.json"); }).find("num_layers 24"),
            std::string::npos);
  config.d_model = 8;
  EXPECT_NE(error_of([&] { check_t5_file(store, config, "t5.json"); }).find("expected [10,8]"),
            std::string::npos);
}

}  // namespace
}  // namespace flx::flux
