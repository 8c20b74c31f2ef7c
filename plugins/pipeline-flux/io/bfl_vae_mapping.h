// bfl_vae_mapping.h — presents a black-forest-labs / latent-diffusion autoencoder checkpoint
// (FLUX.1's ae.safetensors: encoder.down.N.block.M..., decoder.up.N..., mid.block_1, mid.attn_1)
// under the diffusers AutoencoderKL names, following diffusers' convert_ldm_vae_checkpoint:
//  * {encoder,decoder}.norm_out -> conv_norm_out; conv_in, conv_out, quant_conv and
//    post_quant_conv keep their names;
//  * encoder.down.N.block.M -> encoder.down_blocks.N.resnets.M,
//    encoder.down.N.downsample.conv -> encoder.down_blocks.N.downsamplers.0.conv;
//  * decoder.up.N counts from the lowest resolution, diffusers' up_blocks from the highest:
//    decoder.up.N.block.M -> decoder.up_blocks.(U-1-N).resnets.M and
//    decoder.up.N.upsample.conv -> decoder.up_blocks.(U-1-N).upsamplers.0.conv, where U is the
//    number of decoder.up.N levels in the file;
//  * mid.block_1 / mid.block_2 -> mid_block.resnets.0 / .1; resnet nin_shortcut -> conv_shortcut;
//  * mid.attn_1.{norm,q,k,v,proj_out} ->
//  mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0},
//    the 1x1 convolution weights [C,C,1,1] viewed as linear weights [C,C] (zero-copy).
// Keys may carry a "first_stage_model." or "vae." prefix (latent-diffusion checkpoints); when
// some do, only those are read, as diffusers does.
#ifndef FLX_FLUX_IO_BFL_VAE_MAPPING_H_
#define FLX_FLUX_IO_BFL_VAE_MAPPING_H_

#include "io/tensor_store.h"

namespace flx::flux {

// True when `store` holds an autoencoder in the black-forest-labs / latent-diffusion layout:
// some key (after the optional prefix) starts with "decoder.up." or "decoder.mid.block_1.".
bool is_bfl_vae(const TensorStore& store);

// The diffusers-named view of the autoencoder in `bfl`. Throws LoadError naming
// bfl.description() and the tensor for a key outside the layout or an attention weight whose
// shape is not [C,C], [C,C,1] or [C,C,1,1].
TensorStore map_bfl_vae(const TensorStore& bfl);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_BFL_VAE_MAPPING_H_
