// The arithmetic of affine quantisation and of fp8 (e4m3) conversion, shared
// by the CPU and CUDA kernels so both produce MLX's bits exactly: float32
// throughout, IEEE divisions, round-half-even.
#pragma once

#include <math.h>

#include <cstdint>

#include "lmx/half_types.h"

namespace lmx::quant {

// The scale and bias of one group of `group` values quantised to `bits`.
LMX_HD inline void affine_group_params(const float* w, int group, int bits, float& scale, float& bias) {
  const float n_bins = static_cast<float>((1 << bits) - 1);
  float hi = w[0], lo = w[0];
  for (int i = 1; i < group; ++i) {
    hi = hi < w[i] ? w[i] : hi;
    lo = w[i] < lo ? w[i] : lo;
  }
  float s = (hi - lo) / n_bins;
  s = s < 1e-7f ? 1e-7f : s;
  float b = lo;
  if (bits > 1) {
    // The edge of larger magnitude becomes exactly representable: the grid is
    // anchored there, its step adjusted so the edge is a whole number of steps.
    // (One bit keeps the plain {min, max} grid.)
    bool min_is_edge = fabsf(lo) > fabsf(hi);
    s = min_is_edge ? s : -s;
    float edge = min_is_edge ? lo : hi;
    float q0 = rintf(edge / s);
    if (q0 != 0) s = edge / q0;
    b = q0 == 0 ? 0.0f : edge;
  }
  scale = s;
  bias = b;
}

// The quantised level of w in [0, 2^bits - 1].
LMX_HD inline uint32_t affine_level(float w, float scale, float bias, int bits) {
  const float n_bins = static_cast<float>((1 << bits) - 1);
  float q = rintf((w - bias) / scale);
  q = q < 0.0f ? 0.0f : (n_bins < q ? n_bins : q);
  return static_cast<uint32_t>(q);
}

// Quantises one group into its group * bits / 8 packed bytes at `out`.
LMX_HD inline void affine_quantize_group(const float* w, int group, int bits, uint8_t* out, float& scale,
                                         float& bias) {
  affine_group_params(w, group, bits, scale, bias);
  uint64_t acc = 0;
  int filled = 0;
  for (int i = 0; i < group; ++i) {
    acc |= static_cast<uint64_t>(affine_level(w[i], scale, bias, bits)) << filled;
    filled += bits;
    while (filled >= 8) {
      *out++ = static_cast<uint8_t>(acc);
      acc >>= 8;
      filled -= 8;
    }
  }
}

// A dequantised value scale * q + bias in output type T, as MLX computes it
// in T: for 16-bit types the product is rounded to T, then the sum; float32
// (and wider) computes in float32.
template <typename T>
LMX_HD inline float affine_value(float q, float scale, float bias) {
  if constexpr (sizeof(T) == 2) return static_cast<float>(T(static_cast<float>(T(scale * q)) + bias));
  else return scale * q + bias;
}

// fp8 e4m3 (bias 7, no infinities, 0x7f/0xff NaN): round to nearest even,
// saturating at +-448 (NaN and inf included, as MLX does).
LMX_HD inline uint8_t float_to_e4m3(float f) {
  const uint8_t sign = signbit(f) && !isnan(f) ? 0x80 : 0;
  const float a = fabsf(f);
  if (!(a < 448.0f)) return sign | 0x7e;
  if (a < 0x1p-6f) return sign | static_cast<uint8_t>(rintf(a * 0x1p9f));  // subnormals (8 -> 2^-6)
  int e;
  frexpf(a, &e);  // a = f * 2^e, f in [0.5, 1): the unbiased exponent is e - 1
  int m = static_cast<int>(rintf(ldexpf(a, 1 - e) * 8.0f)) - 8;
  if (m == 8) m = 0, ++e;
  return sign | static_cast<uint8_t>(((e - 1 + 7) << 3) | m);
}

LMX_HD inline float e4m3_to_float(uint8_t b) {
  const int e = (b >> 3) & 15, m = b & 7;
  float v = e == 15 && m == 7 ? bits_float(0x7fc00000u)
            : e == 0          ? ldexpf(static_cast<float>(m), -9)
                              : ldexpf(static_cast<float>(8 + m), e - 10);
  return b & 0x80 ? -v : v;
}

}  // namespace lmx::quant
