#include "demo_weights.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>

namespace flx::flux::demo {
namespace {

constexpr double kClipEmbeddingStddev = 0.02;

// Appends the tensors of one network under a name prefix.
class Layout {
 public:
  explicit Layout(std::vector<TensorSpec>& out, std::string prefix = "")
      : out_(out), prefix_(std::move(prefix)) {}

  Layout scoped(const std::string& prefix) const { return Layout(out_, prefix_ + prefix); }

  void linear(const std::string& name, int64_t in, int64_t out, bool bias = true) const {
    add(name + ".weight", {out, in}, normal(1.0 / std::sqrt(static_cast<double>(in))));
    if (bias) add(name + ".bias", {out}, constant(0));
  }
  void conv(const std::string& name, int64_t in, int64_t out, int64_t kernel) const {
    const double fan_in = static_cast<double>(in * kernel * kernel);
    add(name + ".weight", {out, in, kernel, kernel}, normal(1.0 / std::sqrt(fan_in)));
    add(name + ".bias", {out}, constant(0));
  }
  // LayerNorm and GroupNorm: weight and bias.
  void norm(const std::string& name, int64_t channels) const {
    add(name + ".weight", {channels}, constant(1));
    add(name + ".bias", {channels}, constant(0));
  }
  // RMSNorm: weight only.
  void scale(const std::string& name, int64_t channels) const {
    add(name + ".weight", {channels}, constant(1));
  }
  void add(const std::string& name, std::vector<int64_t> shape, TensorInit init) const {
    out_.push_back({prefix_ + name, std::move(shape), init});
  }

  static TensorInit normal(double stddev) { return {stddev, 0}; }
  static TensorInit constant(float value) { return {0, value}; }

 private:
  std::vector<TensorSpec>& out_;
  std::string prefix_;
};

void vae_resnet(const Layout& l, int64_t in, int64_t out) {
  l.norm("norm1", in);
  l.conv("conv1", in, out, 3);
  l.norm("norm2", out);
  l.conv("conv2", out, out, 3);
  if (in != out) l.conv("conv_shortcut", in, out, 1);
}

void vae_mid_block(const Layout& l, int64_t channels) {
  vae_resnet(l.scoped("resnets.0."), channels, channels);
  const Layout attention = l.scoped("attentions.0.");
  attention.norm("group_norm", channels);
  for (const char* projection : {"to_q", "to_k", "to_v", "to_out.0"}) {
    attention.linear(projection, channels, channels);
  }
  vae_resnet(l.scoped("resnets.1."), channels, channels);
}

void vae_encoder(const Layout& l, const VaeSpec& spec) {
  const std::vector<int64_t>& channels = spec.block_out_channels;
  l.conv("conv_in", 3, channels.front(), 3);
  int64_t previous = channels.front();
  for (size_t i = 0; i < channels.size(); ++i) {
    const Layout block = l.scoped("down_blocks." + std::to_string(i) + ".");
    for (int64_t r = 0; r < spec.layers_per_block; ++r) {
      vae_resnet(block.scoped("resnets." + std::to_string(r) + "."),
                 r == 0 ? previous : channels[i], channels[i]);
    }
    if (i + 1 < channels.size()) block.conv("downsamplers.0.conv", channels[i], channels[i], 3);
    previous = channels[i];
  }
  vae_mid_block(l.scoped("mid_block."), channels.back());
  l.norm("conv_norm_out", channels.back());
  l.conv("conv_out", channels.back(), 2 * spec.latent_channels, 3);
}

void vae_decoder(const Layout& l, const VaeSpec& spec) {
  const std::vector<int64_t> reversed(spec.block_out_channels.rbegin(),
                                      spec.block_out_channels.rend());
  l.conv("conv_in", spec.latent_channels, reversed.front(), 3);
  vae_mid_block(l.scoped("mid_block."), reversed.front());
  int64_t previous = reversed.front();
  for (size_t i = 0; i < reversed.size(); ++i) {
    const Layout block = l.scoped("up_blocks." + std::to_string(i) + ".");
    for (int64_t r = 0; r <= spec.layers_per_block; ++r) {
      vae_resnet(block.scoped("resnets." + std::to_string(r) + "."),
                 r == 0 ? previous : reversed[i], reversed[i]);
    }
    if (i + 1 < reversed.size()) block.conv("upsamplers.0.conv", reversed[i], reversed[i], 3);
    previous = reversed[i];
  }
  l.norm("conv_norm_out", reversed.back());
  l.conv("conv_out", reversed.back(), 3, 3);
}

uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 14695981039346656037ull;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

// A uniform double in (0, 1] from the top 53 bits of one draw (never 0, so log() is finite).
double open_unit(std::mt19937_64& engine) {
  return (static_cast<double>(engine() >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

}  // namespace

int64_t TensorSpec::numel() const {
  int64_t count = 1;
  for (const int64_t dim : shape) count *= dim;
  return count;
}

std::vector<TensorSpec> clip_text_tensors(const ClipTextSpec& spec) {
  std::vector<TensorSpec> tensors;
  const Layout text = Layout(tensors).scoped("text_model.");
  const int64_t hidden = spec.hidden_size;
  text.add("embeddings.token_embedding.weight", {spec.vocab_size, hidden},
           Layout::normal(kClipEmbeddingStddev));
  text.add("embeddings.position_embedding.weight", {spec.max_position_embeddings, hidden},
           Layout::normal(kClipEmbeddingStddev));
  for (int64_t i = 0; i < spec.num_hidden_layers; ++i) {
    const Layout layer = text.scoped("encoder.layers." + std::to_string(i) + ".");
    layer.norm("layer_norm1", hidden);
    for (const char* projection : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      layer.linear(std::string("self_attn.") + projection, hidden, hidden);
    }
    layer.norm("layer_norm2", hidden);
    layer.linear("mlp.fc1", hidden, spec.intermediate_size);
    layer.linear("mlp.fc2", spec.intermediate_size, hidden);
  }
  text.norm("final_layer_norm", hidden);
  return tensors;
}

std::vector<TensorSpec> t5_encoder_tensors(const T5Spec& spec) {
  std::vector<TensorSpec> tensors;
  const Layout root(tensors);
  const int64_t d_model = spec.d_model;
  const int64_t inner = spec.num_heads * spec.d_kv;
  root.add("shared.weight", {spec.vocab_size, d_model}, Layout::normal(1.0));
  const Layout encoder = root.scoped("encoder.");
  for (int64_t i = 0; i < spec.num_layers; ++i) {
    const Layout block = encoder.scoped("block." + std::to_string(i) + ".");
    block.scale("layer.0.layer_norm", d_model);
    block.linear("layer.0.SelfAttention.q", d_model, inner, false);
    block.linear("layer.0.SelfAttention.k", d_model, inner, false);
    block.linear("layer.0.SelfAttention.v", d_model, inner, false);
    block.linear("layer.0.SelfAttention.o", inner, d_model, false);
    if (i == 0) {
      block.add("layer.0.SelfAttention.relative_attention_bias.weight",
                {spec.relative_attention_num_buckets, spec.num_heads},
                Layout::normal(1.0 / std::sqrt(static_cast<double>(d_model))));
    }
    block.scale("layer.1.layer_norm", d_model);
    block.linear("layer.1.DenseReluDense.wi_0", d_model, spec.d_ff, false);
    block.linear("layer.1.DenseReluDense.wi_1", d_model, spec.d_ff, false);
    block.linear("layer.1.DenseReluDense.wo", spec.d_ff, d_model, false);
  }
  encoder.scale("final_layer_norm", d_model);
  return tensors;
}

std::vector<TensorSpec> transformer_tensors(const TransformerSpec& spec) {
  // diffusers' sinusoidal timestep projection width and the blocks' MLP ratio.
  constexpr int64_t kTimestepChannels = 256;
  constexpr int64_t kMlpRatio = 4;
  std::vector<TensorSpec> tensors;
  const Layout root(tensors);
  const int64_t dim = spec.inner_dim();
  const int64_t head = spec.attention_head_dim;
  root.linear("x_embedder", spec.in_channels, dim);
  root.linear("context_embedder", spec.joint_attention_dim, dim);
  const Layout embed = root.scoped("time_text_embed.");
  embed.linear("timestep_embedder.linear_1", kTimestepChannels, dim);
  embed.linear("timestep_embedder.linear_2", dim, dim);
  if (spec.guidance_embeds) {
    embed.linear("guidance_embedder.linear_1", kTimestepChannels, dim);
    embed.linear("guidance_embedder.linear_2", dim, dim);
  }
  embed.linear("text_embedder.linear_1", spec.pooled_projection_dim, dim);
  embed.linear("text_embedder.linear_2", dim, dim);

  for (int64_t i = 0; i < spec.num_layers; ++i) {
    const Layout block = root.scoped("transformer_blocks." + std::to_string(i) + ".");
    block.linear("norm1.linear", dim, 6 * dim);
    block.linear("norm1_context.linear", dim, 6 * dim);
    const Layout attn = block.scoped("attn.");
    for (const char* projection : {"to_q", "to_k", "to_v", "to_out.0", "add_q_proj", "add_k_proj",
                                   "add_v_proj", "to_add_out"}) {
      attn.linear(projection, dim, dim);
    }
    for (const char* norm : {"norm_q", "norm_k", "norm_added_q", "norm_added_k"}) {
      attn.scale(norm, head);
    }
    for (const char* ff : {"ff", "ff_context"}) {
      block.linear(std::string(ff) + ".net.0.proj", dim, kMlpRatio * dim);
      block.linear(std::string(ff) + ".net.2", kMlpRatio * dim, dim);
    }
  }
  for (int64_t i = 0; i < spec.num_single_layers; ++i) {
    const Layout block = root.scoped("single_transformer_blocks." + std::to_string(i) + ".");
    block.linear("norm.linear", dim, 3 * dim);
    block.linear("proj_mlp", dim, kMlpRatio * dim);
    block.linear("proj_out", dim + kMlpRatio * dim, dim);
    const Layout attn = block.scoped("attn.");
    for (const char* projection : {"to_q", "to_k", "to_v"}) attn.linear(projection, dim, dim);
    attn.scale("norm_q", head);
    attn.scale("norm_k", head);
  }
  root.linear("norm_out.linear", dim, 2 * dim);
  root.linear("proj_out", dim, spec.in_channels);
  return tensors;
}

std::vector<TensorSpec> bfl_transformer_tensors(const TransformerSpec& spec) {
  constexpr int64_t kTimestepChannels = 256;
  constexpr int64_t kMlpRatio = 4;
  std::vector<TensorSpec> tensors;
  const Layout root(tensors);
  const int64_t dim = spec.inner_dim();
  const int64_t mlp = kMlpRatio * dim;
  const TensorInit one = Layout::constant(1);
  auto qk_norm = [&](const Layout& l) {
    l.add("query_norm.scale", {spec.attention_head_dim}, one);
    l.add("key_norm.scale", {spec.attention_head_dim}, one);
  };
  root.linear("img_in", spec.in_channels, dim);
  root.linear("time_in.in_layer", kTimestepChannels, dim);
  root.linear("time_in.out_layer", dim, dim);
  root.linear("vector_in.in_layer", spec.pooled_projection_dim, dim);
  root.linear("vector_in.out_layer", dim, dim);
  if (spec.guidance_embeds) {
    root.linear("guidance_in.in_layer", kTimestepChannels, dim);
    root.linear("guidance_in.out_layer", dim, dim);
  }
  root.linear("txt_in", spec.joint_attention_dim, dim);
  for (int64_t i = 0; i < spec.num_layers; ++i) {
    const Layout block = root.scoped("double_blocks." + std::to_string(i) + ".");
    for (const std::string stream : {"img", "txt"}) {
      block.linear(stream + "_mod.lin", dim, 6 * dim);
      block.linear(stream + "_attn.qkv", dim, 3 * dim);
      qk_norm(block.scoped(stream + "_attn.norm."));
      block.linear(stream + "_attn.proj", dim, dim);
      block.linear(stream + "_mlp.0", dim, mlp);
      block.linear(stream + "_mlp.2", mlp, dim);
    }
  }
  for (int64_t i = 0; i < spec.num_single_layers; ++i) {
    const Layout block = root.scoped("single_blocks." + std::to_string(i) + ".");
    block.linear("linear1", dim, 3 * dim + mlp);
    block.linear("linear2", dim + mlp, dim);
    qk_norm(block.scoped("norm."));
    block.linear("modulation.lin", dim, 3 * dim);
  }
  root.linear("final_layer.linear", dim, spec.in_channels);
  root.linear("final_layer.adaLN_modulation.1", dim, 2 * dim);
  return tensors;
}

std::vector<TensorSpec> vae_tensors(const VaeSpec& spec) {
  std::vector<TensorSpec> tensors;
  const Layout root(tensors);
  vae_encoder(root.scoped("encoder."), spec);
  vae_decoder(root.scoped("decoder."), spec);
  return tensors;
}

uint16_t to_bfloat16(float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) {
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);  // a quiet NaN
  }
  const uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

TensorView make_tensor(const TensorSpec& spec, uint64_t seed, const std::string& component,
                       DType dtype) {
  if (dtype != DType::F32 && dtype != DType::BF16) {
    throw std::invalid_argument("demo weights are written as float32 or bfloat16");
  }
  const int64_t count = spec.numel();
  auto values =
      std::make_shared<std::vector<float>>(static_cast<size_t>(count), spec.init.constant);
  if (spec.init.stddev > 0) {
    std::seed_seq sequence{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                           static_cast<uint32_t>(fnv1a(component + "/" + spec.name)),
                           static_cast<uint32_t>(fnv1a(component + "/" + spec.name) >> 32)};
    std::mt19937_64 engine(sequence);
    constexpr double kTwoPi = 6.283185307179586;
    for (int64_t i = 0; i < count; i += 2) {
      const double radius = std::sqrt(-2.0 * std::log(open_unit(engine))) * spec.init.stddev;
      const double angle = kTwoPi * open_unit(engine);
      (*values)[i] = static_cast<float>(radius * std::cos(angle));
      if (i + 1 < count) (*values)[i + 1] = static_cast<float>(radius * std::sin(angle));
    }
  }
  TensorView view;
  view.name = spec.name;
  view.shape = spec.shape;
  if (dtype == DType::BF16) {
    auto halves = std::make_shared<std::vector<uint16_t>>(values->size());
    for (size_t i = 0; i < values->size(); ++i) (*halves)[i] = to_bfloat16((*values)[i]);
    view.dtype = DType::BF16;
    view.data = halves->data();
    view.nbytes = halves->size() * sizeof(uint16_t);
    view.owner = halves;
    return view;
  }
  view.dtype = DType::F32;
  view.data = values->data();
  view.nbytes = values->size() * sizeof(float);
  view.owner = values;
  return view;
}

}  // namespace flx::flux::demo
