// bfl_transformer_mapping.h — presents a black-forest-labs FLUX.1 transformer checkpoint
// (flux1-schnell.safetensors, flux1-dev.safetensors: keys double_blocks.N..., single_blocks.N...,
// img_in, txt_in, time_in, vector_in, guidance_in, final_layer) under the diffusers
// FluxTransformer2DModel names, so the networks load one layout only.
//
// The mapping follows diffusers' convert_flux_transformer_checkpoint_to_diffusers:
//  * renames (img_in -> x_embedder, double_blocks.N.img_mod.lin ->
//  transformer_blocks.N.norm1.linear,
//    ...norm.query_norm.scale -> ...attn.norm_q.weight, single_blocks.N.linear2 -> ...proj_out,
//    ...);
//  * fused projections are split by rows: double_blocks.N.{img,txt}_attn.qkv into
//    to_{q,k,v} / add_{q,k,v}_proj thirds, single_blocks.N.linear1 into to_q, to_k, to_v (hidden
//    rows each, hidden = rows of img_in.weight) and proj_mlp (the remaining rows). Rows are
//    contiguous, so these are zero-copy views into the source;
//  * final_layer.adaLN_modulation.1 becomes norm_out.linear with its two row halves swapped
//    (black-forest-labs computes (shift, scale), diffusers (scale, shift)); that one tensor is
//    copied into an owned buffer.
// A "model.diffusion_model." prefix on every key (ComfyUI-style exports) is accepted.
#ifndef FLX_FLUX_IO_BFL_TRANSFORMER_MAPPING_H_
#define FLX_FLUX_IO_BFL_TRANSFORMER_MAPPING_H_

#include "io/tensor_store.h"

namespace flx::flux {

// True when `store` holds a black-forest-labs transformer: some key, after an optional
// "model.diffusion_model." prefix, starts with "double_blocks.".
bool is_bfl_transformer(const TensorStore& store);

// The diffusers-named view of the black-forest-labs transformer in `bfl`. Throws LoadError
// naming bfl.description() and the tensor for a key outside the layout, a fused tensor whose
// rows do not split as described above, or a missing img_in.weight.
TensorStore map_bfl_transformer(const TensorStore& bfl);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_BFL_TRANSFORMER_MAPPING_H_
