// The arithmetic of affine quantisation, of fp8 (e4m3) conversion and of the
// floating-point block modes (mxfp4, mxfp8, nvfp4), shared
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

// ---- floating-point block quantisation (OCP MX and NVIDIA's NVFP4) ----
//
// Each group of values shares one 8-bit scale; each value is stored as a
// 4-bit e2m1 (mxfp4, nvfp4) or 8-bit e4m3 (mxfp8) float of value / scale.
//  - mx modes: the scale is a power of two (e8m0, bias 127, 0xff NaN), the
//    smallest one that brings the group's largest magnitude within the
//    element's range (6 or 448);
//  - nvfp4: the scale is e4m3(amax / 6), optionally with a per-tensor
//    global scale g (the tensor's amax): the stored scale is then
//    e4m3(amax / 6 * 2688 / g) and values decode as code * scale * g / 2688.
// Values round to nearest, ties to even (as the OCP spec and MLX's Metal and
// CUDA kernels do), saturating at the element's largest finite value.
// A group holding a NaN or an infinity gets a NaN scale: it decodes as NaN.

// nvfp4's global scale pairs with e4m3's and e2m1's largest values: 448 * 6.
constexpr float kNvfp4GlobalRange = 2688.0f;

// e2m1: sign, two exponent bits (bias 1), one mantissa bit; magnitudes
// 0, 0.5, 1, 1.5, 2, 3, 4, 6.
LMX_HD inline uint8_t float_to_e2m1(float v) {
  const float a = fabsf(v);
  // Midpoints between neighbouring magnitudes; a tie goes to the even code
  // (<= where the lower neighbour's code is even, < where it is odd).
  uint8_t code = a <= 0.25f ? 0 : a < 0.75f ? 1 : a <= 1.25f ? 2 : a < 1.75f ? 3
               : a <= 2.5f  ? 4 : a < 3.5f  ? 5 : a <= 5.0f  ? 6 : 7;
  return code | (signbit(v) ? 0x8 : 0);
}

LMX_HD inline float e2m1_to_float(uint8_t code) {
  const float magnitudes[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  const float m = magnitudes[code & 7];
  return code & 8 ? -m : m;
}

// The e8m0 code of the smallest power of two s with amax / s <= elem_max
// (code 127, scale 1, for an all-zero group; 0xff for NaN or infinity).
LMX_HD inline uint8_t e8m0_scale_code(float amax, float elem_max) {
  if (!(amax <= 3.4028235e38f)) return 0xff;
  const float x = amax / elem_max;
  if (x == 0.0f) return 127;
  int e;
  const float m = frexpf(x, &e);  // x = m * 2^e, m in [0.5, 1)
  int exponent = m == 0.5f ? e - 1 : e;  // ceil(log2(x))
  exponent = exponent < -127 ? -127 : exponent > 127 ? 127 : exponent;
  return static_cast<uint8_t>(exponent + 127);
}

LMX_HD inline float e8m0_to_float(uint8_t code) {
  return code == 0xff ? bits_float(0x7fc00000u) : ldexpf(1.0f, static_cast<int>(code) - 127);
}

// The e4m3 scale code of an nvfp4 group (`encode` = 2688 / g, or 1).
LMX_HD inline uint8_t nvfp4_scale_code(float amax, float encode) {
  if (!(amax <= 3.4028235e38f)) return 0x7f;
  return float_to_e4m3(amax / 6.0f * encode);
}

// One group's layout: `bits` per element (4: e2m1, 8: e4m3) and its scale
// (power of two for the mx modes, e4m3 for nvfp4), with nvfp4's global
// scale when `has_global`.
struct FpGroupFormat {
  int bits;
  bool power_of_two_scale;
  bool has_global;
  float global;
  LMX_HD float elem_max() const { return bits == 4 ? 6.0f : 448.0f; }
  LMX_HD float encode() const { return has_global ? kNvfp4GlobalRange / global : 1.0f; }
  // A global scale that scales nothing (zero, negative, not finite) makes
  // every quantised group NaN rather than silently wrong.
  LMX_HD bool usable() const { return !has_global || (global > 0.0f && global <= 3.4028235e38f); }
  // What one element's decoded value is multiplied by for a scale code.
  LMX_HD float scale_factor(uint8_t scale_code) const {
    if (power_of_two_scale) return e8m0_to_float(scale_code);
    const float s = e4m3_to_float(scale_code);
    return has_global ? s * (global / kNvfp4GlobalRange) : s;
  }
  LMX_HD float element(uint8_t code) const { return bits == 4 ? e2m1_to_float(code) : e4m3_to_float(code); }
};

// Packs one group's element codes into its bytes (4-bit codes two a byte,
// the first in the low nibble; 8-bit codes one a byte).
LMX_HD inline void pack_fp_codes(const uint8_t* codes, int group, int bits, uint8_t* out) {
  if (bits == 8) {
    for (int i = 0; i < group; ++i) out[i] = codes[i];
    return;
  }
  for (int i = 0; i < group; i += 2) out[i / 2] = static_cast<uint8_t>(codes[i] | (codes[i + 1] << 4));
}

// Element i's code in packed bytes.
LMX_HD inline uint8_t unpack_fp_code(const uint8_t* bytes, int i, int bits) {
  return bits == 8 ? bytes[i] : static_cast<uint8_t>((bytes[i / 2] >> (4 * (i & 1))) & 0xf);
}

// Quantises `group` values: writes their element codes and returns the
// group's scale code.
LMX_HD inline uint8_t fp_quantize_group(const float* w, int group, const FpGroupFormat& f, uint8_t* codes) {
  if (!f.usable()) {
    for (int i = 0; i < group; ++i) codes[i] = 0;
    return f.power_of_two_scale ? 0xff : 0x7f;  // the scale formats' NaN
  }
  float amax = 0.0f;
  for (int i = 0; i < group; ++i) {
    const float a = fabsf(w[i]);
    amax = a > amax || a != a ? a : amax;  // a NaN sticks
  }
  const uint8_t scale_code =
      f.power_of_two_scale ? e8m0_scale_code(amax, f.elem_max()) : nvfp4_scale_code(amax, f.encode());
  float s = f.power_of_two_scale ? e8m0_to_float(scale_code) : e4m3_to_float(scale_code);
  const float encode = f.power_of_two_scale ? 1.0f : f.encode();
  for (int i = 0; i < group; ++i) {
    // A zero scale (a group too small for e4m3) leaves every value a zero
    // of its own sign.
    const float v = s == 0.0f ? copysignf(0.0f, w[i]) : w[i] / s * encode;
    codes[i] = f.bits == 4 ? float_to_e2m1(v) : float_to_e4m3(v);
  }
  return scale_code;
}

}  // namespace lmx::quant
