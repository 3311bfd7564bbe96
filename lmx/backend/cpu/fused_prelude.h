// What compile's generated CPU kernels (fused_kernel.cpp) are written in:
// each step of a chain runs over a block of L values held in registers
// (L = kBlock values, or fewer for the tail), through the op's scalar
// functor or, where the span kernels use one, its SIMD form (simd_ops.h),
// so a generated kernel computes what the chain's separate ops compute.
// Only generated code includes this header; it reaches the compiler
// through the library's embedded copy (cmake/embed_headers.cmake).
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "lmx/backend/common/cast.h"
#include "lmx/backend/common/elementwise_ops.h"
#include "lmx/backend/cpu/simd.h"
#include "lmx/backend/cpu/simd_ops.h"

#define LMX_FUSED_INLINE static inline __attribute__((always_inline))
// Each lane loop is vectorised as a loop (the kernels are built with
// -fopenmp-simd): left to the compiler, these loops were unrolled first
// and some (abs, comparisons) then vectorised only in part, lane by lane.
#define LMX_LANES _Pragma("omp simd") for

namespace lmx::cpu::fused {

// A block is four vectors of float32: one vector's steps form one long
// dependency chain (a transcendental op is ~30 dependent instructions), and
// four independent chains side by side kept the core busy where one did
// not (a chain of erf, tanh, sigmoid and exp over 1e7 values, one thread
// on AVX-512: 19.3 ms in blocks of four vectors, 21.6 of two, 25.7 of one,
// against 23.6 ms interpreted). The tail goes a vector at a time, the last
// m < kLanes values as one vector whose other lanes repeat the last value
// (as simd_ops.h's simd_tail does for the span kernels): every lane of a
// chain then holds a value of the chain, and a SIMD step sees what the
// span kernel's tail sees.
inline constexpr int kLanes = simd::kFloatLanes;
inline constexpr int kBlock = 4 * kLanes;

// A floating step's values as its separate op would store them: the
// compiler may not contract a multiply of one step with an add of the next
// into one fused multiply-add (which rounds once where the separate ops
// round twice). Contractions inside one op's functor stay allowed, as in
// the ahead-of-time kernels. The empty asm hides the values' origin.
template <typename T, int L>
LMX_FUSED_INLINE void rounded(T (&v)[L]) {
  if constexpr (std::is_floating_point_v<T>) {
    static_assert(sizeof(v) % simd::kBytes == 0, "blocks are whole vectors of float32 (kLanes), so of double too");
    typedef T Vec __attribute__((vector_size(simd::kBytes)));
    for (size_t p = 0; p < sizeof(v) / simd::kBytes; ++p) {
      Vec w;
      std::memcpy(&w, reinterpret_cast<char*>(v) + p * simd::kBytes, sizeof w);
      __asm__("" : "+v"(w));
      std::memcpy(reinterpret_cast<char*>(v) + p * simd::kBytes, &w, sizeof w);
    }
  }
}

// m (<= L) values from p, the lanes past them repeating the last.
template <typename T, int L>
LMX_FUSED_INLINE void load(const T* p, T (&v)[L], size_t m) {
  if (m == L) {
    LMX_LANES (int l = 0; l < L; ++l) v[l] = p[l];
  } else {
    for (int l = 0; l < L; ++l) v[l] = p[static_cast<size_t>(l) < m ? l : m - 1];
  }
}

// A bool is read as its byte compared with 0: a bool viewed from other
// bytes may hold any value.
template <int L>
LMX_FUSED_INLINE void load(const bool* p, bool (&v)[L], size_t m) {
  const auto* b = reinterpret_cast<const uint8_t*>(p);
  if (m == L) {
    LMX_LANES (int l = 0; l < L; ++l) v[l] = b[l] != 0;
  } else {
    for (int l = 0; l < L; ++l) v[l] = b[static_cast<size_t>(l) < m ? l : m - 1] != 0;
  }
}

template <typename T, int L>
LMX_FUSED_INLINE void splat(T x, T (&v)[L]) {
  LMX_LANES (int l = 0; l < L; ++l) v[l] = x;
}

// The first m (<= L) values.
template <typename T, int L>
LMX_FUSED_INLINE void store(const T (&v)[L], T* p, size_t m) {
  if (m == L) {
    LMX_LANES (int l = 0; l < L; ++l) p[l] = v[l];
  } else {
    for (size_t l = 0; l < m; ++l) p[l] = v[l];
  }
}

template <typename Op, typename In, typename Out, int L>
LMX_FUSED_INLINE void unary(const In (&x)[L], Out (&y)[L]) {
  if constexpr (L % kLanes == 0 && has_simd_v<Op> && std::is_same_v<In, float> && std::is_same_v<Out, float>) {
    for (int q = 0; q < L; q += kLanes) {
      simd::VF v;
      std::memcpy(&v, x + q, sizeof v);
      v = simd_apply<Op>(v);
      std::memcpy(y + q, &v, sizeof v);
    }
  } else {
    LMX_LANES (int l = 0; l < L; ++l) y[l] = cast_value<Out>(Op{}(static_cast<compute_t<In>>(x[l])));
  }
  rounded(y);
}

template <typename Op, typename In, typename Out, int L>
LMX_FUSED_INLINE void binary(const In (&a)[L], const In (&b)[L], Out (&y)[L]) {
  using C = compute_t<In>;
  LMX_LANES (int l = 0; l < L; ++l) y[l] = cast_value<Out>(Op{}(static_cast<C>(a[l]), static_cast<C>(b[l])));
  rounded(y);
}

// x ** e for an exponent that is one value of small_power's set.
template <int E, typename T, int L>
LMX_FUSED_INLINE void power(const T (&x)[L], T (&y)[L]) {
  LMX_LANES (int l = 0; l < L; ++l) y[l] = power_small<E>(x[l]);
  rounded(y);
}

template <typename C, typename T, int L>
LMX_FUSED_INLINE void select(const C (&c)[L], const T (&a)[L], const T (&b)[L], T (&y)[L]) {
  LMX_LANES (int l = 0; l < L; ++l) y[l] = c[l] ? a[l] : b[l];
}

template <typename In, typename Out, int L>
LMX_FUSED_INLINE void cast(const In (&x)[L], Out (&y)[L]) {
  LMX_LANES (int l = 0; l < L; ++l) y[l] = cast_value<Out>(x[l]);
  rounded(y);
}

}  // namespace lmx::cpu::fused
