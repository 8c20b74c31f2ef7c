// dequantize.h — exact float32 values of the quantized storage types (io/tensor.h DType):
// ggml's block formats as GGUF files hold them and fp8 as safetensors files hold it.
//
// The block formats follow ggml's definitions (ggml-common.h block structs, ggml-quants.c
// dequantize_row_*), which fix the semantics every GGUF tool shares: the results are
// bit-identical to ggml's to_float. Every block starts with fp16 scale(s), widened exactly; a
// value is scale * small integer code (+ or - one offset), which float32 represents exactly,
// so the evaluation order cannot change a bit. Layouts, per block (QK_K = 256):
//   Q4_0  32 values, 18 B: d; 16 B of nibbles, low nibbles = values 0..15, high = 16..31;
//         x = (q - 8) * d
//   Q4_1  32, 20 B: d, m; nibbles as Q4_0; x = q * d + m
//   Q5_0  32, 22 B: d; 4 B high bits (bit j of the 32-bit word = 5th bit of value j); nibbles
//         as Q4_0; x = (q - 16) * d
//   Q5_1  32, 24 B: d, m; high bits and nibbles as Q5_0; x = q * d + m
//   Q8_0  32, 34 B: d; 32 int8; x = q * d
//   Q2_K  256, 84 B: 16 B scales (low nibble scale, high nibble min, per 16 values); 64 B of
//         2-bit codes; d, dmin. Per 128 values, 32 code bytes hold four 2-bit planes
//         (shift 0, 2, 4, 6), each plane two groups of 16; x = d*sc * q - dmin*m
//   Q3_K  256, 110 B: 32 B high-bit mask; 64 B of 2-bit codes (planes as Q2_K); 12 B packing
//         sixteen 6-bit scales (offset 32); d. x = d*(sc - 32) * (q - (high bit set ? 0 : 4))
//   Q4_K  256, 144 B: d, dmin; 12 B packing eight 6-bit scales and eight 6-bit mins; 128 B of
//         nibbles, per 64 values: 32 bytes, low nibbles first 32, high nibbles next 32;
//         x = d*sc * q - dmin*m
//   Q5_K  256, 176 B: d, dmin; scales/mins as Q4_K; 32 B high bits (bit pair 2i, 2i+1 of
//         each byte for the i-th 64 values); 128 B nibbles as Q4_K; x = d*sc * q - dmin*m
//   Q6_K  256, 210 B: 128 B low nibbles; 64 B 2-bit high parts; 16 int8 scales; d.
//         x = d * sc * (q - 32)
// fp8: F8_E4M3 is float8_e4m3fn (bias 7, no infinities, S.1111.111 = NaN, largest 448,
// subnormals m/8 * 2^-6); F8_E5M2 is IEEE-like (bias 15, infinities and NaNs, the top byte
// of an fp16). ComfyUI's "scaled fp8" files multiply each weight by a float32 scale:
// x = float32(value) * scale, one float32 multiply.
#ifndef FLX_FLUX_IO_DEQUANTIZE_H_
#define FLX_FLUX_IO_DEQUANTIZE_H_

#include <cstddef>
#include <cstdint>

#include "io/tensor.h"

namespace flx::flux {

// Writes the `count` float32 values stored at `src` in `dtype` to `dst`. For a block type
// `count` must be a multiple of its block size and `src` hold count / block_elements blocks;
// plain float types (F32, F16, BF16) are widened exactly; fp8 values are unscaled. Throws
// std::invalid_argument for a count that splits a block or a non-floating plain type.
void dequantize(DType dtype, const void* src, int64_t count, float* dst);

// As dequantize() for fp8, then multiplies every value by `scale` (ComfyUI's scale_weight).
void dequantize_scaled_fp8(DType dtype, const void* src, int64_t count, float scale, float* dst);

// Values [first, first + count) of `view` (a floating or quantized tensor, flattened) in
// float32, fp8 views multiplied by their TensorView::scale: what the tensor stands for. `first`
// and `count` must be whole blocks for block types (whole rows always are). Throws
// std::invalid_argument like dequantize().
void dequantize_view(const TensorView& view, int64_t first, int64_t count, float* dst);

// The exact float32 value of an IEEE fp16 / bfloat16 / fp8 bit pattern.
float half_to_float(uint16_t bits);
float bfloat16_to_float(uint16_t bits);
float e4m3fn_to_float(uint8_t bits);
float e5m2_to_float(uint8_t bits);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_DEQUANTIZE_H_
