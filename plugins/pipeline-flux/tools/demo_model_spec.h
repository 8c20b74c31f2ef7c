// demo_model_spec.h — the sizes of a demo checkpoint's four networks, and the presets
// make-demo-model offers. Field names follow the config.json keys they are written to.
#ifndef FLX_FLUX_TOOLS_DEMO_MODEL_SPEC_H_
#define FLX_FLUX_TOOLS_DEMO_MODEL_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flx::flux::demo {

// transformers CLIPTextModel (quick_gelu, like FLUX.1's CLIP-L).
struct ClipTextSpec {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t max_position_embeddings = 77;
};

// transformers T5EncoderModel with T5 v1.1's gated-gelu feed-forward.
struct T5Spec {
  int64_t vocab_size = 0;
  int64_t d_model = 0;
  int64_t d_kv = 0;
  int64_t d_ff = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
};

// diffusers FluxTransformer2DModel (patch size 1).
struct TransformerSpec {
  int64_t in_channels = 64;
  int64_t num_layers = 0;
  int64_t num_single_layers = 0;
  int64_t attention_head_dim = 0;
  int64_t num_attention_heads = 0;
  int64_t joint_attention_dim = 0;
  int64_t pooled_projection_dim = 0;
  std::vector<int64_t> axes_dims_rope;
  bool guidance_embeds = false;

  int64_t inner_dim() const { return attention_head_dim * num_attention_heads; }
};

// diffusers AutoencoderKL as FLUX.1 configures it (no quant convs, 16 latent channels).
struct VaeSpec {
  std::vector<int64_t> block_out_channels;
  int64_t layers_per_block = 0;
  int64_t latent_channels = 16;
  int64_t norm_num_groups = 0;
  double scaling_factor = 0.3611;
  double shift_factor = 0.1159;
};

struct DemoModelSpec {
  std::string preset;
  ClipTextSpec clip;
  T5Spec t5;
  TransformerSpec transformer;
  VaeSpec vae;
  // Defaults written to the model folder's README (what a config for it should use).
  int64_t suggested_size = 0;
};

// The preset called `name`, or nullopt for an unknown name. The vocabulary sizes must cover
// the tokenizers that go with the model: `clip_vocab` CLIP token ids, `t5_vocab` T5 ids.
//
//  tiny  CLIP hidden 32 x 2 layers (2 heads, MLP 128); T5 d_model 64 x 2 layers (4 heads x 16,
//        d_ff 160); transformer 2 double + 2 single blocks, 2 heads x 64, axes (8, 28, 28);
//        VAE block_out_channels [32, 64, 64, 64] (4 blocks: scale factor 8, sizes multiples of
//        16 like FLUX.1), 1 layer per block, 16 groups. Vocabularies exactly the tokenizers'.
//        About 3 M parameters; a 256x256 image in 4 steps takes well under a second per step
//        on two cores.
//  wide  FLUX.1's widths with few blocks: transformer 1 double + 2 single blocks, 24 heads x
//        128, joint_attention_dim 4096, pooled 768, axes (16, 56, 56); FLUX.1's VAE
//        ([128, 256, 512, 512], 2 layers per block, 32 groups); CLIP-L widths with 1 layer
//        (768, 12 heads, MLP 3072, vocab 49408); T5-XXL widths with 1 layer (4096, 64 heads x
//        64, d_ff 10240, vocab 32128). About 1.13 B parameters (4.5 GB in float32): for
//        measuring kernels at real sizes, not for quality.
//  schnell  wide with FLUX.1-schnell's full transformer depth (19 double + 38 single blocks):
//        about 12.4 B parameters (24.8 GB in bfloat16), for GPU benchmarks.
std::optional<DemoModelSpec> demo_model_preset(const std::string& name, int64_t clip_vocab,
                                               int64_t t5_vocab);

// Gives `spec` FLUX.1's text encoder depths: CLIP-L's 12 layers and T5-XXL's 24. Throws
// std::invalid_argument naming the preset unless it has their widths (wide, schnell).
void use_full_text_encoders(DemoModelSpec* spec);

}  // namespace flx::flux::demo

#endif  // FLX_FLUX_TOOLS_DEMO_MODEL_SPEC_H_
