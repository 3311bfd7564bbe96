// Portable SIMD lanes through GCC/Clang vector extensions, for the few kernels
// the auto-vectoriser leaves scalar (selects in loop-carried reductions).
// Vectors are the width of the build's widest registers: wider ones are
// lowered to slow scalar code on narrower targets.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include "lmx/backend/common/isa_namespace.h"

namespace lmx::cpu::simd {

inline namespace LMX_ISA_NS {

#if defined(__AVX512F__)
inline constexpr int kBytes = 64;
#elif defined(__AVX__)
inline constexpr int kBytes = 32;
#else
inline constexpr int kBytes = 16;
#endif

template <typename T>
struct Lanes {
  static constexpr int N = kBytes / sizeof(T);
  typedef T V __attribute__((vector_size(kBytes)));
};

template <typename T>
typename Lanes<T>::V load(const T* p) {
  typename Lanes<T>::V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
typename Lanes<T>::V splat(T x) {
  return x - typename Lanes<T>::V{};  // broadcasts (see splat_f)
}

template <typename T>
void store(T* p, typename Lanes<T>::V v) {
  std::memcpy(p, &v, sizeof v);
}

// The first m (< N) lanes from p, the others `fill`: a row's tail without
// reading past it.
template <typename T>
typename Lanes<T>::V load_part(const T* p, int64_t m, T fill = T(0)) {
  typename Lanes<T>::V v = splat(fill);
  std::memcpy(&v, p, static_cast<size_t>(m) * sizeof(T));
  return v;
}

template <typename T>
void store_part(T* p, typename Lanes<T>::V v, int64_t m) {
  std::memcpy(p, &v, static_cast<size_t>(m) * sizeof(T));
}

// The extreme of a contiguous run, starting from `init`, and whether a NaN
// was seen (the caller decides what a NaN means). T is a native arithmetic
// type (no halves, no complex).
template <bool IsMax, typename T>
std::pair<T, bool> extreme(const T* s, int64_t m, T init) {
  using V = typename Lanes<T>::V;
  constexpr int N = Lanes<T>::N;
  auto pick = [](auto x, auto a) {
    if constexpr (IsMax) return x > a ? x : a;
    else return x < a ? x : a;
  };
  V a0 = splat(init), a1 = a0;
  decltype(a0 != a0) nan = {};
  int64_t i = 0;
  // Two accumulators hide the compare/select latency.
  for (; i + 2 * N <= m; i += 2 * N) {
    V x0 = load(s + i), x1 = load(s + i + N);
    a0 = pick(x0, a0);
    a1 = pick(x1, a1);
    if constexpr (std::is_floating_point_v<T>) nan |= (x0 != x0) | (x1 != x1);
  }
  T acc = init;
  bool any_nan = false;
  for (int k = 0; k < N; ++k) {
    acc = pick(pick(a0[k], a1[k]), acc);
    any_nan |= nan[k] != 0;
  }
  for (; i < m; ++i) {
    acc = pick(s[i], acc);
    if constexpr (std::is_floating_point_v<T>) any_nan |= s[i] != s[i];
  }
  return {acc, any_nan};
}

// ---- float32 transcendentals on lanes (branch-free, ~1 ulp) ----

typedef float VF __attribute__((vector_size(kBytes)));
typedef int32_t VI __attribute__((vector_size(kBytes)));
inline constexpr int kFloatLanes = kBytes / 4;

// x in every lane. A scalar minus a vector broadcasts the scalar (one
// vbroadcastss); x - 0 is x exactly, -0 and NaN included. Filling lanes one
// by one compiled to a masked broadcast per lane where x is not a constant.
inline VF splat_f(float x) { return x - VF{}; }

// exp(x) = 2^n p(r), n = round(x / ln 2), r = x - n ln 2 (two-part ln 2),
// p a degree-7 polynomial, for x within exp's finite range.
inline void exp_parts_in_range(VF xc, VF& n, VF& p) {
  n = (xc * splat_f(1.44269504088896341f) + splat_f(12582912.0f)) - splat_f(12582912.0f);
  VF r = xc - n * splat_f(0.693359375f);
  r = r - n * splat_f(-2.12194440e-4f);
  p = splat_f(1.9875691500e-4f);
  p = p * r + splat_f(1.3981999507e-3f);
  p = p * r + splat_f(8.3334519073e-3f);
  p = p * r + splat_f(4.1665795894e-2f);
  p = p * r + splat_f(1.6666665459e-1f);
  p = p * r + splat_f(5.0000001201e-1f);
  p = p * r * r + r + splat_f(1.0f);
}

// The same for any x, clamped to [min_x, max_x] first (a NaN passes both
// clamps and stays NaN).
inline void exp_parts(VF x, VF min_x, VF& n, VF& p) {
  const VF max_x = splat_f(88.72283935546875f);  // past it: inf
  VF xc = x > max_x ? max_x : x;
  xc = xc < min_x ? min_x : xc;
  exp_parts_in_range(xc, n, p);
}

// Overflow gives inf. On AVX-512, scalef applies 2^n with IEEE overflow and
// gradual underflow in one instruction (half of exp's instructions went to
// building 2^n by hand); elsewhere 2^n is built from its bits and the
// subnormal range gives 0.
inline VF exp(VF x) {
  VF n, p;
#if defined(__AVX512F__)
  static_assert(kBytes == 64);
  // A result below FLT_MIN (x < -87.34: subnormal, or 0 past -103.98) costs
  // scalef a microcode assist, 15x the whole exp, and masked softmax scores
  // are full of such x (-inf, the dtype's lowest). Those far below are 0:
  // they run clamped to the normal range and are zeroed after. Only a
  // vector with a lane whose result is a nonzero subnormal takes the slow,
  // gradually underflowing path.
  const VF normal_min = splat_f(-87.33654022216797f), zero_below = splat_f(-104.0f);
  const __mmask16 subnormal = _mm512_cmp_ps_mask((__m512)x, (__m512)normal_min, _CMP_LT_OQ) &
                              _mm512_cmp_ps_mask((__m512)x, (__m512)zero_below, _CMP_GE_OQ);
  if (__builtin_expect(subnormal != 0, 0)) {
    exp_parts(x, zero_below, n, p);
    return (VF)_mm512_scalef_ps((__m512)p, (__m512)n);
  }
  exp_parts(x, normal_min, n, p);
  const VF y = (VF)_mm512_scalef_ps((__m512)p, (__m512)n);
  return x < zero_below ? splat_f(0.0f) : y;
#else
  const VF min_x = splat_f(-87.33654022216797f);
  exp_parts(x, min_x, n, p);
  // 2^n as float bits; for n > 0 as 2^(n-1) * 2, so n = 128 (x near the
  // top of the range) stays representable while n = -126 keeps its bits.
  VI ni = __builtin_convertvector(n, VI);
  VI positive = ni > 0;  // -1 in the lanes where n > 0
  VI bits = (ni + positive + 127) << 23;
  VF y = (p * (n > splat_f(0.0f) ? splat_f(2.0f) : splat_f(1.0f))) * (VF)bits;  // a vector cast reinterprets the bits
  y = x > splat_f(88.72283935546875f) ? splat_f(INFINITY) : y;
  y = x < min_x ? splat_f(0.0f) : y;
  return x != x ? x : y;
#endif
}

// exp(x) for x in [-87, 88], where it is finite and normal: none of exp's
// range handling (tanh's exp(2|x|) spent a third of its instructions on it).
inline VF exp_of_normal_range(VF x) {
  VF n, p;
  exp_parts_in_range(x, n, p);
#if defined(__AVX512F__)
  return (VF)_mm512_scalef_ps((__m512)p, (__m512)n);
#else
  const VI bits = (__builtin_convertvector(n, VI) + 127) << 23;
  return p * (VF)bits;  // a vector cast reinterprets the bits
#endif
}

// 1 / d for d >= 1 whose reciprocal is normal (d < 2^126), without a
// division, whose throughput bounded tanh (a third of its time): on AVX-512
// the 14-bit hardware estimate refined by one Newton step (relative error
// ~2^-27); a division elsewhere.
inline VF reciprocal_of_normal(VF d) {
#if defined(__AVX512F__)
  const VF r = (VF)_mm512_rcp14_ps((__m512)d);
  return r + r * (splat_f(1.0f) - d * r);
#else
  return splat_f(1.0f) / d;
#endif
}

// 1 / (1 + exp(-x)). For x >= -87 the result is normal, so the reciprocal
// estimate serves (the division was a fifth of sigmoid's time); a vector
// with a lane below takes the division, whose subnormal results and zeros
// the estimate would flush.
inline VF sigmoid(VF x) {
  const VF d = splat_f(1.0f) + exp(-x);
#if defined(__AVX512F__)
  if (__builtin_expect(_mm512_cmp_ps_mask((__m512)x, (__m512)splat_f(-87.0f), _CMP_LT_OQ) == 0, 1))
    return reciprocal_of_normal(d);
#endif
  return splat_f(1.0f) / d;
}

// tanh: an odd polynomial near 0, 1 - 2 / (exp(2|x|) + 1) elsewhere, with
// |x| clamped at 9.1, past which the result rounds to 1. A NaN takes the
// second form (its comparisons are false) and comes out NaN.
inline VF tanh(VF x) {
  const VI sign_bit = simd::splat(int32_t(0x80000000));
  const VF ax = (VF)((VI)x & ~sign_bit);
  VF x2 = x * x;
  VF p = splat_f(-5.70498872745e-3f);
  p = p * x2 + splat_f(2.06390887954e-2f);
  p = p * x2 - splat_f(5.37397155531e-2f);
  p = p * x2 + splat_f(1.33314422036e-1f);
  p = p * x2 - splat_f(3.33332819422e-1f);
  VF small = ax + ax * x2 * p;
  const VF clamped = ax > splat_f(9.1f) ? splat_f(9.1f) : ax;
  VF big = splat_f(1.0f) - splat_f(2.0f) * reciprocal_of_normal(exp_of_normal_range(clamped + clamped) + splat_f(1.0f));
  VF r = ax < splat_f(0.625f) ? small : big;
  return (VF)((VI)r | ((VI)x & sign_bit));  // r >= 0 (or NaN): x's sign
}

// erf: its Maclaurin series (odd, to x^15) for |x| < 0.5, where relative
// accuracy matters; Abramowitz & Stegun 7.1.26 (absolute error 1.5e-7, so
// relative under 3e-7 there) from 0.5 on; 1 past 4.
inline VF erf(VF x) {
  VF ax = x < splat_f(0.0f) ? -x : x;
  VF x2 = x * x;
  // 2/sqrt(pi) * (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320 + x^13/9360 - x^15/75600)
  VF p = splat_f(-1.49256504e-5f);
  p = p * x2 + splat_f(1.20553329e-4f);
  p = p * x2 - splat_f(8.54832702e-4f);
  p = p * x2 + splat_f(5.22397762e-3f);
  p = p * x2 - splat_f(2.68661706e-2f);
  p = p * x2 + splat_f(1.12837917e-1f);
  p = p * x2 - splat_f(3.76126389e-1f);
  p = p * x2 + splat_f(1.12837917e+0f);
  VF small = ax * p;
  VF t = reciprocal_of_normal(splat_f(1.0f) + splat_f(0.3275911f) * (ax < splat_f(4.0f) ? ax : splat_f(4.0f)));
  VF q = splat_f(1.061405429f);
  q = q * t - splat_f(1.453152027f);
  q = q * t + splat_f(1.421413741f);
  q = q * t - splat_f(0.284496736f);
  q = q * t + splat_f(0.254829592f);
  VF big = splat_f(1.0f) - q * t * exp_of_normal_range(-(x2 < splat_f(16.0f) ? x2 : splat_f(16.0f)));
  VF r = ax < splat_f(0.5f) ? small : big;
  r = ax > splat_f(4.0f) ? splat_f(1.0f) : r;
  r = x < splat_f(0.0f) ? -r : r;
  return x != x ? x : r;
}

}  // namespace LMX_ISA_NS
}  // namespace lmx::cpu::simd
