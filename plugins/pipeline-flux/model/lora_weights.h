// lora_weights.h — a FLUX LoRA adapter file read into the low-rank pairs diffusers loads from
// it (FluxLoraLoaderMixin.lora_state_dict, diffusers 0.32.2), so that merging them
// (lora_merge.h) gives the weights `load_lora_weights` + `fuse_lora` give.
//
// Two layouts are read, told apart as diffusers tells them (any ".lora_down.weight" key means
// kohya):
//  * diffusers/PEFT, as diffusers and ai-toolkit write it: "transformer.<module>.lora_A.weight"
//    [rank, in] and ".lora_B.weight" [out, rank] (the "transformer." prefix may be absent),
//    optionally "<module>.alpha": the update is scaled by alpha / rank, else by 1.
//  * kohya (sd-scripts): "lora_unet_double_blocks_<i>_img_attn_qkv.lora_down.weight",
//    ".lora_up.weight" and ".alpha", on the original FLUX layer names. diffusers converts
//    them to its layer names, folds alpha / rank into the two matrices (scale_down / scale_up)
//    and splits the fused layers: img_attn_qkv -> to_q, to_k, to_v; single blocks' linear1 ->
//    to_q, to_k, to_v, proj_mlp. The same is done here, with the same arithmetic.
// Text-encoder keys ("text_encoder.*", "lora_te1_*", "lora_te_*") and DoRA's "dora_scale" are
// listed in `ignored`: the adapter changes the transformer only. Any other key is an error.
#ifndef FLX_FLUX_MODEL_LORA_WEIGHTS_H_
#define FLX_FLUX_MODEL_LORA_WEIGHTS_H_

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "io/safetensors.h"

namespace flx::flux {

// One low-rank update: delta = (up @ down) * scaling, added to `modules`. With several
// modules (a fused kohya layer) the rows of `up` are split between them in order, each
// taking as many rows as its layer has outputs.
struct LoraPair {
  std::vector<std::string> modules;  // the transformer's linear layers, diffusers naming
  std::string key;                   // what the file calls it, for messages
  at::Tensor down;                   // [rank, in], the file's dtype (kohya: alpha folded in)
  at::Tensor up;                     // [out, rank]
  double scaling = 1.0;              // alpha / rank (PEFT with alpha keys); else 1
};

struct LoraWeights {
  std::string format;  // "peft" | "kohya"
  std::vector<LoraPair> pairs;
  std::vector<std::string> ignored;  // keys for other components, not applied
};

// Reads `file`. Throws LoadError naming the file and the key for an unknown key, a matrix
// without its partner, a rank that differs between the pair, or a non-matrix tensor.
LoraWeights read_lora(const SafetensorsFile& file);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_LORA_WEIGHTS_H_
