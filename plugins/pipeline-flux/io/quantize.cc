#include "io/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "io/dequantize.h"

namespace flx::flux {
namespace {

constexpr int kSuperBlock = 256;  // ggml's QK_K
constexpr float kGroupMaxEps = 1e-15f;

uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// ggml's nearest_int: round half to even through the float adder (valid for |f| <= 4194303).
int nearest_int(float f) {
  const float shifted = f + 12582912.0f;
  return static_cast<int>(float_bits(shifted) & 0x007FFFFF) - 0x00400000;
}

void put_half(uint8_t* p, float value) {
  const uint16_t bits = float_to_half(value);
  p[0] = static_cast<uint8_t>(bits & 0xFF);
  p[1] = static_cast<uint8_t>(bits >> 8);
}

float stored_half(const uint8_t* p) { return half_to_float(static_cast<uint16_t>(p[0] | (p[1] << 8))); }

// --- Q8_0 ------------------------------------------------------------------------------

void q8_0_block(const float* x, uint8_t* out) {
  float amax = 0;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  put_half(out, d);
  for (int j = 0; j < 32; ++j) out[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::roundf(x[j] * id)));
}

// --- the asymmetric fit shared by Q4_K and Q5_K (ggml's make_qkx2_quants) -------------------

struct FitSearch {
  float rmin;
  float rdelta;
  int nstep;
};

// Fits x ~ scale * L + min (min <= 0) with L in [0, nmax], weights w; returns scale and sets
// *negated_min to -min.
float fit_scale_and_min(int n, int nmax, const float* x, const float* w, uint8_t* L,
                        float* negated_min, FitSearch search) {
  float min = x[0], max = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, 0);
    *negated_min = -min;
    return 0;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
    const float diff = scale * L[i] + min - x[i];
    best_error += w[i] * (diff * diff);
  }
  uint8_t candidate[32];
  for (int step = 0; step <= search.nstep; ++step) {
    iscale = (search.rmin + search.rdelta * step + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
      candidate[i] = static_cast<uint8_t>(l);
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D <= 0) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    float error = 0;
    for (int i = 0; i < n; ++i) {
      const float diff = this_scale * candidate[i] + this_min - x[i];
      error += w[i] * (diff * diff);
    }
    if (error < best_error) {
      std::copy(candidate, candidate + n, L);
      best_error = error;
      scale = this_scale;
      min = this_min;
    }
  }
  *negated_min = -min;
  return scale;
}

// Packs the eight 6-bit scales and mins of Q4_K/Q5_K into 12 bytes (the layout
// dequantize.cc's k4_scale_min reads).
void pack_k4_scales(const uint8_t* ls, const uint8_t* lm, uint8_t* packed) {
  std::memset(packed, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      packed[j] = ls[j];
      packed[j + 4] = lm[j];
    } else {
      packed[j + 4] = static_cast<uint8_t>((ls[j] & 0x0F) | ((lm[j] & 0x0F) << 4));
      packed[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
      packed[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
    }
  }
}

void unpack_k4_scale(int j, const uint8_t* q, int* scale, int* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
    *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Q4_K (nmax 15) and Q5_K (nmax 31): codes for the 256 values of `x` and the block header
// (d, dmin, packed scales) written to `header`.
void k_quant_codes(const float* x, int nmax, FitSearch search, uint8_t* header, uint8_t* L) {
  float scales[8], mins[8];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    float weights[32];
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = fit_scale_and_min(32, nmax, xs, weights, L + 32 * j, &mins[j], search);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
  }
  put_half(header, max_scale / 63.0f);
  put_half(header + 2, max_min / 63.0f);
  pack_k4_scales(ls, lm, header + 4);
  const float d = stored_half(header), dmin = stored_half(header + 2);
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    unpack_k4_scale(j, header + 4, &sc, &m);
    const float dd = d * sc;
    if (dd == 0) continue;
    const float dm = dmin * m;
    for (int i = 0; i < 32; ++i) {
      L[32 * j + i] = static_cast<uint8_t>(std::clamp(nearest_int((x[32 * j + i] + dm) / dd), 0, nmax));
    }
  }
}

void q4_k_block(const float* x, uint8_t* out) {
  uint8_t L[kSuperBlock];
  k_quant_codes(x, 15, FitSearch{-1.0f, 0.1f, 20}, out, L);
  uint8_t* qs = out + 16;
  for (int chunk = 0; chunk < 4; ++chunk) {
    for (int l = 0; l < 32; ++l) {
      qs[32 * chunk + l] = static_cast<uint8_t>(L[64 * chunk + l] | (L[64 * chunk + 32 + l] << 4));
    }
  }
}

void q5_k_block(const float* x, uint8_t* out) {
  uint8_t L[kSuperBlock];
  k_quant_codes(x, 31, FitSearch{-0.5f, 0.1f, 15}, out, L);
  uint8_t* qh = out + 16;
  uint8_t* qs = out + 48;
  std::memset(qh, 0, 32);
  for (int chunk = 0; chunk < 4; ++chunk) {
    const uint8_t m1 = static_cast<uint8_t>(1u << (2 * chunk));
    const uint8_t m2 = static_cast<uint8_t>(2u << (2 * chunk));
    for (int l = 0; l < 32; ++l) {
      int l1 = L[64 * chunk + l];
      int l2 = L[64 * chunk + 32 + l];
      if (l1 > 15) {
        l1 -= 16;
        qh[l] |= m1;
      }
      if (l2 > 15) {
        l2 -= 16;
        qh[l] |= m2;
      }
      qs[32 * chunk + l] = static_cast<uint8_t>(l1 | (l2 << 4));
    }
  }
}

// --- Q6_K (ggml's make_qx_quants with rmse_type 1: weights x^2) -------------------------

float symmetric_scale(const float* x, int8_t* L) {
  constexpr int n = 16, nmax = 32;
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, 0);
    return 0;
  }
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    iscale = -(nmax + 0.1f * step) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        L[i] = static_cast<int8_t>(nmax + std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

void q6_k_block(const float* x, uint8_t* out) {
  int8_t L[kSuperBlock];
  float scales[16];
  float max_scale = 0, max_abs_scale = 0;
  for (int ib = 0; ib < 16; ++ib) {
    scales[ib] = symmetric_scale(x + 16 * ib, L + 16 * ib);
    if (std::fabs(scales[ib]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[ib]);
      max_scale = scales[ib];
    }
  }
  std::memset(out, 0, 210);
  if (max_abs_scale < kGroupMaxEps) return;  // d = 0: an all-zero block
  uint8_t* ql = out;
  uint8_t* qh = out + 128;
  auto* sc = reinterpret_cast<int8_t*>(out + 192);
  const float iscale = -128.0f / max_scale;
  put_half(out + 208, 1 / iscale);
  for (int ib = 0; ib < 16; ++ib) {
    sc[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
  }
  const float d_all = stored_half(out + 208);
  for (int j = 0; j < 16; ++j) {
    const float d = d_all * sc[j];
    if (d == 0) continue;
    for (int i = 0; i < 16; ++i) {
      L[16 * j + i] = static_cast<int8_t>(std::clamp(nearest_int(x[16 * j + i] / d), -32, 31) + 32);
    }
  }
  for (int half = 0; half < 2; ++half, ql += 64, qh += 32) {
    const int8_t* q = L + 128 * half;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((q[l] & 0x0F) | ((q[l + 64] & 0x0F) << 4));
      ql[l + 32] = static_cast<uint8_t>((q[l + 32] & 0x0F) | ((q[l + 96] & 0x0F) << 4));
      qh[l] = static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) |
                                   ((q[l + 96] >> 4) << 6));
    }
  }
}

}  // namespace

uint16_t float_to_half(float value) {
  const uint32_t x = float_bits(value);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t magnitude = x & 0x7FFFFFFF;
  if (magnitude > 0x7F800000) return static_cast<uint16_t>(sign | 0x7E00);  // NaN
  if (magnitude >= 0x477FF000) return static_cast<uint16_t>(sign | 0x7C00);  // rounds to inf
  if (magnitude < 0x38800000) {  // below 2^-14: a subnormal half, m * 2^-24
    float abs_value;
    std::memcpy(&abs_value, &magnitude, sizeof abs_value);
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(abs_value * 16777216.0f)));
  }
  const uint32_t exponent = (magnitude >> 23) - 127 + 15;
  const uint32_t mantissa = magnitude & 0x7FFFFF;
  uint32_t half = (exponent << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) ++half;  // carries into the exponent
  return static_cast<uint16_t>(sign | half);
}

uint8_t float_to_e4m3fn(float value) {
  if (std::isnan(value)) return 0x7F;
  const uint8_t sign = std::signbit(value) ? 0x80 : 0x00;
  const float magnitude = std::min(std::fabs(value), 448.0f);
  // Nearest code by value among the 127 non-negative finite codes, ties to the even code.
  uint8_t best = 0;
  float best_error = magnitude;
  for (uint8_t code = 1; code <= 0x7E; ++code) {
    const float error = std::fabs(e4m3fn_to_float(code) - magnitude);
    if (error < best_error || (error == best_error && (code & 1) == 0)) {
      best = code;
      best_error = error;
    }
  }
  return static_cast<uint8_t>(sign | best);
}

bool can_quantize_to(DType dtype) {
  return dtype == DType::Q8_0 || dtype == DType::Q4_K || dtype == DType::Q5_K ||
         dtype == DType::Q6_K || dtype == DType::F8_E4M3;
}

void quantize(DType dtype, const float* src, int64_t count, void* dst) {
  auto* out = static_cast<uint8_t*>(dst);
  if (dtype == DType::F8_E4M3) {
    for (int64_t i = 0; i < count; ++i) out[i] = float_to_e4m3fn(src[i]);
    return;
  }
  void (*block)(const float*, uint8_t*) = nullptr;
  switch (dtype) {
    case DType::Q8_0: block = q8_0_block; break;
    case DType::Q4_K: block = q4_k_block; break;
    case DType::Q5_K: block = q5_k_block; break;
    case DType::Q6_K: block = q6_k_block; break;
    default:
      throw std::invalid_argument(std::string("quantize: cannot write ") + dtype_name(dtype));
  }
  const DTypeLayout layout = dtype_layout(dtype);
  if (count < 0 || count % layout.block_elements != 0) {
    throw std::invalid_argument("quantize: " + std::to_string(count) + " values split a " +
                                dtype_name(dtype) + " block");
  }
  for (int64_t b = 0; b < count / layout.block_elements; ++b) {
    block(src + b * layout.block_elements, out + b * layout.block_bytes);
  }
}

}  // namespace flx::flux
