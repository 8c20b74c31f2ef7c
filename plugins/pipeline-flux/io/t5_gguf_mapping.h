// t5_gguf_mapping.h — presents a T5 encoder GGUF (llama.cpp's converter names, as published
// for FLUX.1's T5-XXL: t5-v1_1-xxl-encoder-Q8_0.gguf and friends; general.architecture
// "t5encoder" or "t5") under transformers' T5EncoderModel names, the layout our encoder loads:
//   token_embd.weight                  -> shared.weight
//   enc.blk.N.attn_{q,k,v,o}.weight    -> encoder.block.N.layer.0.SelfAttention.{q,k,v,o}.weight
//   enc.blk.0.attn_rel_b.weight        -> encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight
//   enc.blk.N.attn_norm.weight         -> encoder.block.N.layer.0.layer_norm.weight
//   enc.blk.N.ffn_gate.weight          -> encoder.block.N.layer.1.DenseReluDense.wi_0.weight
//   enc.blk.N.ffn_up.weight            -> ...DenseReluDense.wi_1.weight (wi.weight when ungated)
//   enc.blk.N.ffn_down.weight          -> encoder.block.N.layer.1.DenseReluDense.wo.weight
//   enc.blk.N.ffn_norm.weight          -> encoder.block.N.layer.1.layer_norm.weight
//   enc.output_norm.weight             -> encoder.final_layer_norm.weight
// (the same table as ComfyUI-GGUF's T5 map and llama.cpp's tensor names). Decoder tensors
// (dec.*, output.weight) of a full T5 GGUF are not needed by FLUX and are refused by name.
#ifndef FLX_FLUX_IO_T5_GGUF_MAPPING_H_
#define FLX_FLUX_IO_T5_GGUF_MAPPING_H_

#include <optional>
#include <string>

#include "io/tensor_store.h"

namespace flx::flux {

// True when `store` uses llama.cpp's T5 names (token_embd.weight or enc.blk.* tensors).
bool is_llama_cpp_t5(const TensorStore& store);

// The transformers-named view of `store` (zero-copy). Throws LoadError naming the file and
// tensor for a name outside the table above.
TensorStore map_llama_cpp_t5(const TensorStore& store);

// The llama.cpp name of a transformers T5 encoder tensor (the table above read backwards;
// encoder.embed_tokens.weight is token_embd.weight too), or nullopt for other names.
std::optional<std::string> llama_cpp_t5_name(const std::string& transformers_name);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_T5_GGUF_MAPPING_H_
