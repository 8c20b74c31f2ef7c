#include "io/t5_gguf_mapping.h"

#include <optional>

namespace flx::flux {
namespace {

constexpr char kBlockPrefix[] = "enc.blk.";

// "enc.blk.12.attn_q.weight" -> {12, "attn_q.weight"}; nullopt for other names.
std::optional<std::pair<std::string, std::string>> split_block_name(const std::string& name) {
  const std::string prefix = kBlockPrefix;
  if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size()) return std::nullopt;
  const std::string index = name.substr(prefix.size(), dot - prefix.size());
  if (index.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::make_pair(index, name.substr(dot + 1));
}

// llama.cpp leaf -> transformers leaf inside encoder.block.N (ffn_up is handled apart: wi_1
// when the block is gated, wi when not).
const std::pair<const char*, const char*> kLeaves[] = {
    {"attn_q.weight", "layer.0.SelfAttention.q.weight"},
    {"attn_k.weight", "layer.0.SelfAttention.k.weight"},
    {"attn_v.weight", "layer.0.SelfAttention.v.weight"},
    {"attn_o.weight", "layer.0.SelfAttention.o.weight"},
    {"attn_rel_b.weight", "layer.0.SelfAttention.relative_attention_bias.weight"},
    {"attn_norm.weight", "layer.0.layer_norm.weight"},
    {"ffn_gate.weight", "layer.1.DenseReluDense.wi_0.weight"},
    {"ffn_down.weight", "layer.1.DenseReluDense.wo.weight"},
    {"ffn_norm.weight", "layer.1.layer_norm.weight"},
    {"ffn_up.weight", "layer.1.DenseReluDense.wi_1.weight"},
    {"ffn_up.weight", "layer.1.DenseReluDense.wi.weight"},
};

std::optional<std::string> block_target(const std::string& leaf, bool gated) {
  if (leaf == "ffn_up.weight") {
    return std::string(gated ? "layer.1.DenseReluDense.wi_1.weight" : "layer.1.DenseReluDense.wi.weight");
  }
  for (const auto& [from, to] : kLeaves) {
    if (leaf == from) return std::string(to);
  }
  return std::nullopt;
}

std::optional<std::string> target_name(const std::string& name, bool gated) {
  if (name == "token_embd.weight") return std::string("shared.weight");
  if (name == "enc.output_norm.weight") return std::string("encoder.final_layer_norm.weight");
  auto block = split_block_name(name);
  if (!block) return std::nullopt;
  std::optional<std::string> leaf = block_target(block->second, gated);
  if (!leaf) return std::nullopt;
  return "encoder.block." + block->first + "." + *leaf;
}

}  // namespace

bool is_llama_cpp_t5(const TensorStore& store) {
  if (store.contains("token_embd.weight")) return true;
  for (const std::string& name : store.names()) {
    if (split_block_name(name)) return true;
  }
  return false;
}

TensorStore map_llama_cpp_t5(const TensorStore& store) {
  bool gated = false;
  for (const std::string& name : store.names()) {
    auto block = split_block_name(name);
    if (block && block->second == "ffn_gate.weight") gated = true;
  }
  TensorStore mapped(store.description());
  for (const std::string& name : store.names()) {
    std::optional<std::string> target = target_name(name, gated);
    if (!target) {
      throw LoadError(store.source_of(name) + ": tensor " + name +
                      " is not a T5 encoder tensor in llama.cpp's names (token_embd, "
                      "enc.blk.N.{attn_q,attn_k,attn_v,attn_o,attn_rel_b,attn_norm,ffn_gate,"
                      "ffn_up,ffn_down,ffn_norm}, enc.output_norm)");
    }
    TensorView view = store.get(name);
    view.name = *target;
    mapped.add(std::move(view), store.source_of(name) + " (" + name + ")");
  }
  return mapped;
}

std::optional<std::string> llama_cpp_t5_name(const std::string& transformers_name) {
  if (transformers_name == "shared.weight" || transformers_name == "encoder.embed_tokens.weight") {
    return std::string("token_embd.weight");
  }
  if (transformers_name == "encoder.final_layer_norm.weight") {
    return std::string("enc.output_norm.weight");
  }
  const std::string prefix = "encoder.block.";
  if (transformers_name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const size_t dot = transformers_name.find('.', prefix.size());
  if (dot == std::string::npos) return std::nullopt;
  const std::string index = transformers_name.substr(prefix.size(), dot - prefix.size());
  if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const std::string leaf = transformers_name.substr(dot + 1);
  for (const auto& [gguf_leaf, transformers_leaf] : kLeaves) {
    if (leaf == transformers_leaf) return std::string(kBlockPrefix) + index + "." + gguf_leaf;
  }
  return std::nullopt;
}

}  // namespace flx::flux
