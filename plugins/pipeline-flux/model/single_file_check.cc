#include "model/single_file_check.h"

#include <cstdlib>

namespace flx::flux {
namespace {

void expect_shape(const TensorStore& weights, const std::string& name,
                  const std::vector<int64_t>& shape, const std::string& config_file) {
  if (!weights.contains(name)) {
    throw LoadError(weights.description() + ": tensor " + name + " not found (needed by " +
                    config_file + ")");
  }
  const TensorView& view = weights.get(name);
  if (view.shape != shape) {
    throw LoadError(weights.source_of(name) + ": tensor " + name + " has shape " +
                    shape_string(view.shape) + ", expected " + shape_string(shape) + " from " +
                    config_file + " (a file of another model size?)");
  }
}

// 1 + the largest N of "<prefix>N." names (0 when there is none).
int64_t block_count(const TensorStore& weights, const std::string& prefix) {
  int64_t count = 0;
  for (const std::string& name : weights.names()) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const int64_t index = std::strtoll(name.c_str() + prefix.size(), nullptr, 10);
    count = std::max(count, index + 1);
  }
  return count;
}

void expect_blocks(const TensorStore& weights, const std::string& prefix, int64_t expected,
                   const std::string& key, const std::string& config_file) {
  const int64_t found = block_count(weights, prefix);
  if (found != expected) {
    throw LoadError(weights.description() + ": " + std::to_string(found) + " " + prefix +
                    "N blocks, but " + config_file + " has " + key + " " +
                    std::to_string(expected) + " (a file of another model?)");
  }
}

}  // namespace

void check_transformer_file(const TensorStore& weights, const FluxTransformerConfig& config,
                            const std::string& config_file) {
  const int64_t inner = config.inner_dim();
  expect_shape(weights, "x_embedder.weight", {inner, config.in_channels}, config_file);
  expect_shape(weights, "context_embedder.weight", {inner, config.joint_attention_dim},
               config_file);
  expect_blocks(weights, "transformer_blocks.", config.num_layers, "num_layers", config_file);
  expect_blocks(weights, "single_transformer_blocks.", config.num_single_layers,
                "num_single_layers", config_file);
}

void check_t5_file(const TensorStore& weights, const T5Config& config,
                   const std::string& config_file) {
  const std::string embedding =
      weights.contains("shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
  expect_shape(weights, embedding, {config.vocab_size, config.d_model}, config_file);
  expect_blocks(weights, "encoder.block.", config.num_layers, "num_layers", config_file);
}

}  // namespace flx::flux
