// fp8_scales.h — ComfyUI's "scaled fp8" checkpoints (flux1-dev-fp8 and friends): each fp8
// weight `<layer>.weight` comes with a float32 scalar `<layer>.scale_weight`, and an empty
// F8_E4M3 tensor `scaled_fp8` marks the file. The true weight is float32(fp8 value) * scale.
// Optional `<layer>.scale_input` scalars are for fp8 activation kernels; we compute with
// dequantized weights and ignore them. Newer ComfyUI spells the same `<layer>.weight_scale`
// and `<layer>.input_scale` (plus `<layer>.comfy_quant` JSON); both spellings are read, and
// the marker may carry a prefix (`model.diffusion_model.scaled_fp8`).
#ifndef FLX_FLUX_IO_FP8_SCALES_H_
#define FLX_FLUX_IO_FP8_SCALES_H_

#include "io/tensor_store.h"

namespace flx::flux {

// `store` with every `<layer>.scale_weight` (or `.weight_scale`) folded into TensorView::scale
// of `<layer>.weight` and the scale tensors, input scales, comfy_quant and the marker removed. A store without
// them comes back unchanged. Throws LoadError naming the tensor when a scale is not a finite
// positive float32 scalar, or scales a tensor that is missing or not fp8.
TensorStore fold_fp8_scales(const TensorStore& store);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_FP8_SCALES_H_
