// Portable SIMD lanes through GCC/Clang vector extensions, for the few kernels
// the auto-vectoriser leaves scalar (selects in loop-carried reductions).
// Vectors are the width of the build's widest registers: wider ones are
// lowered to slow scalar code on narrower targets.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
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
  typename Lanes<T>::V v;
  for (int k = 0; k < Lanes<T>::N; ++k) v[k] = x;
  return v;
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

}  // namespace LMX_ISA_NS
}  // namespace lmx::cpu::simd
