// float16 and bfloat16 storage types. Arithmetic happens in float32 and is
// rounded once on store: for + - * / and sqrt that is exactly IEEE half
// arithmetic, because float32 carries more than twice the mantissa bits.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define LMX_HD __host__ __device__
#else
#define LMX_HD
#endif

namespace lmx {

LMX_HD inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
LMX_HD inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

struct float16_t {
  uint16_t bits = 0;
  float16_t() = default;
  LMX_HD float16_t(float f) : bits(from_float(f)) {}
  LMX_HD float16_t(double f) : float16_t(static_cast<float>(f)) {}
  template <typename T>
  LMX_HD float16_t(T v) : float16_t(static_cast<float>(v)) {}
  LMX_HD operator float() const { return to_float(bits); }
  static LMX_HD float16_t from_bits(uint16_t b) {
    float16_t h;
    h.bits = b;
    return h;
  }

  // Round-to-nearest-even conversion, branch-light so loops vectorise.
  static LMX_HD uint16_t from_float(float f) {
    uint32_t x = float_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    x &= 0x7fffffffu;
    if (x >= 0x7f800000u) {  // inf or nan
      return static_cast<uint16_t>(sign | 0x7c00u | (x > 0x7f800000u ? 0x200u : 0u));
    }
    if (x >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow
    if (x < 0x38800000u) {  // subnormal or zero in half
      // Adding 0.5 aligns the half subnormal ulp to float's integer bits.
      float v = bits_float(x) + 0.5f;
      return static_cast<uint16_t>(sign | (float_bits(v) - 0x3f000000u));
    }
    uint32_t mant_odd = (x >> 13) & 1u;
    x += 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round
    return static_cast<uint16_t>(sign | (x >> 13));
  }
  static LMX_HD float to_float(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t em = h & 0x7fffu;
    if (em >= 0x7c00u) return bits_float(sign | 0x7f800000u | ((em & 0x3ffu) << 13));
    if (em < 0x0400u) {  // subnormal: value is em * 2^-24
      return bits_float(sign | float_bits(static_cast<float>(em) * 5.9604644775390625e-08f));
    }
    return bits_float(sign | ((em << 13) + 0x38000000u));
  }
};

struct bfloat16_t {
  uint16_t bits = 0;
  bfloat16_t() = default;
  LMX_HD bfloat16_t(float f) : bits(from_float(f)) {}
  LMX_HD bfloat16_t(double f) : bfloat16_t(static_cast<float>(f)) {}
  template <typename T>
  LMX_HD bfloat16_t(T v) : bfloat16_t(static_cast<float>(v)) {}
  LMX_HD operator float() const { return bits_float(static_cast<uint32_t>(bits) << 16); }
  static LMX_HD bfloat16_t from_bits(uint16_t b) {
    bfloat16_t h;
    h.bits = b;
    return h;
  }
  static LMX_HD uint16_t from_float(float f) {
    uint32_t x = float_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet nan
    x += 0x7fffu + ((x >> 16) & 1u);  // round to nearest even
    return static_cast<uint16_t>(x >> 16);
  }
};

}  // namespace lmx
