#include "io/dequantize.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace flx::flux {
namespace {

constexpr int kSuperBlock = 256;  // ggml's QK_K

uint16_t read_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

uint32_t read_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

float read_half(const uint8_t* p) { return half_to_float(read_u16(p)); }

float bits_to_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// --- 32-value blocks --------------------------------------------------------------------

void q4_0_block(const uint8_t* b, float* y) {
  const float d = read_half(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
    y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}

void q4_1_block(const uint8_t* b, float* y) {
  const float d = read_half(b);
  const float m = read_half(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
    y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

// The 5-bit codes of a Q5_0/Q5_1 block: nibbles plus bit j (value j) of the high-bit word.
void q5_codes(const uint8_t* high_bits, const uint8_t* qs, int* codes) {
  const uint32_t qh = read_u32(high_bits);
  for (int j = 0; j < 16; ++j) {
    codes[j] = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    codes[j + 16] = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
  }
}

void q5_0_block(const uint8_t* b, float* y) {
  const float d = read_half(b);
  int codes[32];
  q5_codes(b + 2, b + 6, codes);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(codes[j] - 16) * d;
}

void q5_1_block(const uint8_t* b, float* y) {
  const float d = read_half(b);
  const float m = read_half(b + 2);
  int codes[32];
  q5_codes(b + 4, b + 8, codes);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(codes[j]) * d + m;
}

void q8_0_block(const uint8_t* b, float* y) {
  const float d = read_half(b);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

// --- 256-value super-blocks -------------------------------------------------------------

void q2_k_block(const uint8_t* b, float* y) {
  const uint8_t* scales = b;  // 16 bytes: low nibble scale, high nibble min
  const uint8_t* q = b + 16;  // 64 bytes of 2-bit codes
  const float d = read_half(b + 80);
  const float dmin = read_half(b + 82);
  int group = 0;
  for (int half = 0; half < 2; ++half, q += 32) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int part = 0; part < 2; ++part, ++group) {
        const float dl = d * static_cast<float>(scales[group] & 0x0F);
        const float ml = dmin * static_cast<float>(scales[group] >> 4);
        for (int l = 0; l < 16; ++l) {
          *y++ = dl * static_cast<float>((q[part * 16 + l] >> shift) & 3) - ml;
        }
      }
    }
  }
}

// Q3_K's sixteen 6-bit scales from 12 bytes: bytes 0-7 hold the low 4 bits (scales 0-7 in
// the low nibbles, 8-15 in the high nibbles), bytes 8-11 the high 2 bits, 2 bits per scale:
// scale i takes bits 2*(i/4) of byte 8 + i%4.
void q3_k_scales(const uint8_t* packed, int* scales) {
  for (int i = 0; i < 16; ++i) {
    const int low = i < 8 ? (packed[i] & 0x0F) : (packed[i - 8] >> 4);
    const int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
    scales[i] = (low | (high << 4)) - 32;
  }
}

void q3_k_block(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;   // 32 bytes
  const uint8_t* q = b + 32;  // 64 bytes
  int scales[16];
  q3_k_scales(b + 96, scales);
  const float d = read_half(b + 108);
  int group = 0;
  uint8_t mask = 1;
  for (int half = 0; half < 2; ++half, q += 32) {
    for (int shift = 0; shift < 8; shift += 2, mask = static_cast<uint8_t>(mask << 1)) {
      for (int part = 0; part < 2; ++part, ++group) {
        const float dl = d * static_cast<float>(scales[group]);
        for (int l = 0; l < 16; ++l) {
          const int index = part * 16 + l;
          const int code = ((q[index] >> shift) & 3) - ((hmask[index] & mask) ? 0 : 4);
          *y++ = dl * static_cast<float>(code);
        }
      }
    }
  }
}

// Scale and min of sub-block j (0-7) of Q4_K/Q5_K: 6 bits each packed in 12 bytes.
void k4_scale_min(int j, const uint8_t* q, int* scale, int* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
    *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Q4_K and Q5_K share everything but the fifth bit (`high`, null for Q4_K).
void k4_k5_block(const uint8_t* header, const uint8_t* high, const uint8_t* ql, float* y) {
  const float d = read_half(header);
  const float dmin = read_half(header + 2);
  const uint8_t* packed = header + 4;
  for (int chunk = 0; chunk < 4; ++chunk, ql += 32) {
    for (int nibble = 0; nibble < 2; ++nibble) {
      const int sub = 2 * chunk + nibble;
      int scale, min;
      k4_scale_min(sub, packed, &scale, &min);
      const float d1 = d * static_cast<float>(scale);
      const float m1 = dmin * static_cast<float>(min);
      for (int l = 0; l < 32; ++l) {
        int code = nibble == 0 ? (ql[l] & 0x0F) : (ql[l] >> 4);
        if (high != nullptr && ((high[l] >> sub) & 1)) code += 16;
        *y++ = d1 * static_cast<float>(code) - m1;
      }
    }
  }
}

void q4_k_block(const uint8_t* b, float* y) { k4_k5_block(b, nullptr, b + 16, y); }

void q5_k_block(const uint8_t* b, float* y) { k4_k5_block(b, b + 16, b + 48, y); }

void q6_k_block(const uint8_t* b, float* y) {
  const uint8_t* ql = b;        // 128 bytes
  const uint8_t* qh = b + 128;  // 64 bytes
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);  // 16 scales
  const float d = read_half(b + 208);
  for (int half = 0; half < 2; ++half, y += 128, ql += 64, qh += 32, sc += 8) {
    for (int l = 0; l < 32; ++l) {
      const int group = l / 16;
      const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[group]) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(sc[group + 2]) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(sc[group + 4]) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(sc[group + 6]) * static_cast<float>(q4);
    }
  }
}

using BlockDecoder = void (*)(const uint8_t*, float*);

BlockDecoder block_decoder(DType dtype) {
  switch (dtype) {
    case DType::Q4_0: return q4_0_block;
    case DType::Q4_1: return q4_1_block;
    case DType::Q5_0: return q5_0_block;
    case DType::Q5_1: return q5_1_block;
    case DType::Q8_0: return q8_0_block;
    case DType::Q2_K: return q2_k_block;
    case DType::Q3_K: return q3_k_block;
    case DType::Q4_K: return q4_k_block;
    case DType::Q5_K: return q5_k_block;
    case DType::Q6_K: return q6_k_block;
    default: return nullptr;
  }
}

}  // namespace

float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1F;
  const uint32_t mantissa = bits & 0x3FF;
  if (exponent == 0x1F) return bits_to_float(sign | 0x7F800000u | (mantissa << 13));
  if (exponent != 0) return bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa * 2^-24, exact in float32.
  const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  return sign ? -magnitude : magnitude;
}

float bfloat16_to_float(uint16_t bits) { return bits_to_float(static_cast<uint32_t>(bits) << 16); }

float e4m3fn_to_float(uint8_t bits) {
  const bool negative = bits & 0x80;
  const int exponent = (bits >> 3) & 0x0F;
  const int mantissa = bits & 0x07;
  float magnitude;
  if (exponent == 0x0F && mantissa == 0x07) {
    magnitude = std::numeric_limits<float>::quiet_NaN();
  } else if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -9);  // m/8 * 2^-6
  } else {
    magnitude = std::ldexp(static_cast<float>(8 + mantissa), exponent - 7 - 3);
  }
  return negative ? -magnitude : magnitude;
}

float e5m2_to_float(uint8_t bits) { return half_to_float(static_cast<uint16_t>(bits) << 8); }

void dequantize(DType dtype, const void* src, int64_t count, float* dst) {
  const auto* bytes = static_cast<const uint8_t*>(src);
  if (count < 0) throw std::invalid_argument("dequantize: negative count");
  switch (dtype) {
    case DType::F32:
      if (count > 0) std::memcpy(dst, src, static_cast<size_t>(count) * 4);  // dst may be null at 0
      return;
    case DType::F16:
      for (int64_t i = 0; i < count; ++i) dst[i] = half_to_float(read_u16(bytes + 2 * i));
      return;
    case DType::BF16:
      for (int64_t i = 0; i < count; ++i) dst[i] = bfloat16_to_float(read_u16(bytes + 2 * i));
      return;
    case DType::F8_E4M3:
      for (int64_t i = 0; i < count; ++i) dst[i] = e4m3fn_to_float(bytes[i]);
      return;
    case DType::F8_E5M2:
      for (int64_t i = 0; i < count; ++i) dst[i] = e5m2_to_float(bytes[i]);
      return;
    default: break;
  }
  const BlockDecoder decoder = block_decoder(dtype);
  if (decoder == nullptr) {
    throw std::invalid_argument(std::string("dequantize: ") + dtype_name(dtype) +
                                " is not a floating or quantized type");
  }
  const DTypeLayout layout = dtype_layout(dtype);
  if (count % layout.block_elements != 0) {
    throw std::invalid_argument("dequantize: " + std::to_string(count) + " values split a " +
                                dtype_name(dtype) + " block of " +
                                std::to_string(layout.block_elements));
  }
  for (int64_t block = 0; block < count / layout.block_elements; ++block) {
    decoder(bytes + block * layout.block_bytes, dst + block * layout.block_elements);
  }
}

void dequantize_view(const TensorView& view, int64_t first, int64_t count, float* dst) {
  const DTypeLayout layout = dtype_layout(view.dtype);
  if (first < 0 || first % layout.block_elements != 0) {
    throw std::invalid_argument("dequantize_view: offset " + std::to_string(first) +
                                " splits a " + dtype_name(view.dtype) + " block");
  }
  const auto* src = static_cast<const uint8_t*>(view.data) +
                    static_cast<size_t>(first / layout.block_elements) * layout.block_bytes;
  if (view.dtype == DType::F8_E4M3 || view.dtype == DType::F8_E5M2) {
    dequantize_scaled_fp8(view.dtype, src, count, view.scale, dst);
  } else {
    dequantize(view.dtype, src, count, dst);
  }
}

void dequantize_scaled_fp8(DType dtype, const void* src, int64_t count, float scale, float* dst) {
  if (dtype != DType::F8_E4M3 && dtype != DType::F8_E5M2) {
    throw std::invalid_argument(std::string("dequantize_scaled_fp8: ") + dtype_name(dtype) +
                                " is not an fp8 type");
  }
  dequantize(dtype, src, count, dst);
  for (int64_t i = 0; i < count; ++i) dst[i] *= scale;
}

}  // namespace flx::flux
