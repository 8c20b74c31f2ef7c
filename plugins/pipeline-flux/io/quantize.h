// quantize.h — float32 to the storage types we write: ggml's Q8_0, Q4_K, Q5_K and Q6_K (the
// blocks io/dequantize.h reads) and fp8 e4m3fn. The ggml types follow ggml's reference
// quantizers (quantize_row_*_ref in ggml-quants.c, no importance matrix) step for step, so a
// row quantized here is byte-identical to what llama-quantize / ComfyUI-GGUF's tools write for
// the same float32 values; fp8 rounds to nearest even and saturates at +-448, the encoding
// ComfyUI's fp8 checkpoints use.
#ifndef FLX_FLUX_IO_QUANTIZE_H_
#define FLX_FLUX_IO_QUANTIZE_H_

#include <cstdint>

#include "io/tensor.h"

namespace flx::flux {

// True for the types quantize() writes.
bool can_quantize_to(DType dtype);

// Quantizes `count` float32 values (a multiple of the block size) into `dst`, which must hold
// tensor_bytes(dtype, {count}) bytes. Throws std::invalid_argument for another type or a
// count that splits a block.
void quantize(DType dtype, const float* src, int64_t count, void* dst);

// The e4m3fn code of `value`: round to nearest even, saturating to +-448; NaN stays NaN.
uint8_t float_to_e4m3fn(float value);
// IEEE fp16 bits of `value`, round to nearest even (ggml's GGML_FP32_TO_FP16).
uint16_t float_to_half(float value);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_QUANTIZE_H_
