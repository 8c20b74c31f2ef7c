#include "demo_model_spec.h"

#include <algorithm>
#include <stdexcept>

namespace flx::flux::demo {
namespace {

DemoModelSpec tiny(int64_t clip_vocab, int64_t t5_vocab) {
  DemoModelSpec spec;
  spec.preset = "tiny";
  spec.clip = {clip_vocab, 32, 128, 2, 2, 77};
  spec.t5 = {t5_vocab, 64, 16, 160, 2, 4, 32, 128};
  spec.transformer.num_layers = 2;
  spec.transformer.num_single_layers = 2;
  spec.transformer.attention_head_dim = 64;
  spec.transformer.num_attention_heads = 2;
  spec.transformer.joint_attention_dim = spec.t5.d_model;
  spec.transformer.pooled_projection_dim = spec.clip.hidden_size;
  spec.transformer.axes_dims_rope = {8, 28, 28};
  spec.vae.block_out_channels = {32, 64, 64, 64};
  spec.vae.layers_per_block = 1;
  spec.vae.norm_num_groups = 16;
  spec.suggested_size = 256;
  return spec;
}

DemoModelSpec wide(int64_t clip_vocab, int64_t t5_vocab) {
  DemoModelSpec spec;
  spec.preset = "wide";
  spec.clip = {std::max<int64_t>(clip_vocab, 49408), 768, 3072, 1, 12, 77};
  spec.t5 = {std::max<int64_t>(t5_vocab, 32128), 4096, 64, 10240, 1, 64, 32, 128};
  spec.transformer.num_layers = 1;
  spec.transformer.num_single_layers = 2;
  spec.transformer.attention_head_dim = 128;
  spec.transformer.num_attention_heads = 24;
  spec.transformer.joint_attention_dim = spec.t5.d_model;
  spec.transformer.pooled_projection_dim = spec.clip.hidden_size;
  spec.transformer.axes_dims_rope = {16, 56, 56};
  spec.vae.block_out_channels = {128, 256, 512, 512};
  spec.vae.layers_per_block = 2;
  spec.vae.norm_num_groups = 32;
  spec.suggested_size = 1024;
  return spec;
}

// FLUX.1-schnell's transformer at full depth (19 double + 38 single blocks, ~11.9 B
// parameters) with wide's one-layer text encoders and FLUX.1's VAE: denoising steps and the
// decode cost what they cost in FLUX.1-schnell, for GPU benchmarks (scripts/gpu-bench.sh).
DemoModelSpec schnell(int64_t clip_vocab, int64_t t5_vocab) {
  DemoModelSpec spec = wide(clip_vocab, t5_vocab);
  spec.preset = "schnell";
  spec.transformer.num_layers = 19;
  spec.transformer.num_single_layers = 38;
  return spec;
}

}  // namespace

std::optional<DemoModelSpec> demo_model_preset(const std::string& name, int64_t clip_vocab,
                                               int64_t t5_vocab) {
  if (name == "tiny") return tiny(clip_vocab, t5_vocab);
  if (name == "wide") return wide(clip_vocab, t5_vocab);
  if (name == "schnell") return schnell(clip_vocab, t5_vocab);
  return std::nullopt;
}

void use_full_text_encoders(DemoModelSpec* spec) {
  constexpr int64_t kClipLHidden = 768, kClipLLayers = 12;
  constexpr int64_t kT5XxlModel = 4096, kT5XxlLayers = 24;
  if (spec->clip.hidden_size != kClipLHidden || spec->t5.d_model != kT5XxlModel) {
    throw std::invalid_argument("--full-text-encoders needs a preset with FLUX.1's widths (wide "
                                "or schnell), not \"" + spec->preset + "\"");
  }
  spec->clip.num_hidden_layers = kClipLLayers;
  spec->t5.num_layers = kT5XxlLayers;
}

}  // namespace flx::flux::demo
