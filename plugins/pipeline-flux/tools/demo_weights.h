// demo_weights.h — the tensors of each demo network (names and shapes exactly as the
// diffusers / transformers checkpoints of FLUX.1 have them) and their random initialisation.
//
// Initialisation keeps a random network well-conditioned (activations of order one, no
// saturated image): linear and convolution weights are drawn from N(0, 1/fan_in) (fan_in =
// input features x kernel area), biases are 0, norm weights 1 and norm biases 0; CLIP's token
// and position embeddings are N(0, 0.02^2) as transformers initialises them; T5's shared
// embedding is N(0, 1) and its relative attention bias N(0, 1/d_model), as in T5's own init.
// Every tensor has its own random stream, seeded from the model seed and the tensor's
// component and name, so one tensor's values do not depend on which others exist.
#ifndef FLX_FLUX_TOOLS_DEMO_WEIGHTS_H_
#define FLX_FLUX_TOOLS_DEMO_WEIGHTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "demo_model_spec.h"
#include "io/tensor.h"

namespace flx::flux::demo {

// How one tensor's values are made: N(0, stddev^2) when stddev > 0, else all `constant`.
struct TensorInit {
  double stddev = 0;
  float constant = 0;
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  TensorInit init;

  int64_t numel() const;
};

// The tensors of text_encoder/model.safetensors, text_encoder_2/model.safetensors,
// transformer/ and vae/diffusion_pytorch_model.safetensors, in a fixed order.
std::vector<TensorSpec> clip_text_tensors(const ClipTextSpec& spec);
std::vector<TensorSpec> t5_encoder_tensors(const T5Spec& spec);
std::vector<TensorSpec> transformer_tensors(const TransformerSpec& spec);
std::vector<TensorSpec> vae_tensors(const VaeSpec& spec);
// The same transformer in the black-forest-labs layout of the flux1-*.safetensors and GGUF
// files (double_blocks.N.img_attn.qkv, single_blocks.N.linear1, ...: q, k, v fused), which
// make-demo-model --quantize writes so ComfyUI-GGUF and stable-diffusion.cpp can load it.
std::vector<TensorSpec> bfl_transformer_tensors(const TransformerSpec& spec);

// The values of `spec`, drawn from the stream of (seed, component, spec.name) with
// std::mt19937_64 and the Box-Muller transform (written out, so the values are the same with
// every standard library), as float32 or, with `dtype` BF16, rounded to the nearest bfloat16
// (ties to even). Other dtypes throw std::invalid_argument.
TensorView make_tensor(const TensorSpec& spec, uint64_t seed, const std::string& component,
                       DType dtype = DType::F32);

// `value` rounded to the nearest bfloat16, ties to even (NaN stays NaN); the upper 16 bits of
// the float32 result.
uint16_t to_bfloat16(float value);

}  // namespace flx::flux::demo

#endif  // FLX_FLUX_TOOLS_DEMO_WEIGHTS_H_
