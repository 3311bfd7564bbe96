// What the dense span kernels (elementwise.h) and compile's generated CPU
// kernels (fused_kernel.cpp) both compute differently from an op's scalar
// functor: the float32 SIMD forms of the transcendental ops, and x ** e by
// multiplication for small constant exponents. One definition, so that a
// compiled chain gives the results of its separate ops.
#pragma once

#include <type_traits>

#include "lmx/backend/common/elementwise_ops.h"
#include "lmx/backend/common/isa_namespace.h"
#include "lmx/backend/cpu/simd.h"

namespace lmx::cpu {

inline namespace LMX_ISA_NS {

// Ops with a float32 SIMD form (backend/cpu/simd.h), used on dense data.
template <typename Op>
inline constexpr bool has_simd_v =
    std::is_same_v<Op, scalar::Exp> || std::is_same_v<Op, scalar::Sigmoid> || std::is_same_v<Op, scalar::Tanh> ||
    std::is_same_v<Op, scalar::Erf>;

template <typename Op>
simd::VF simd_apply(simd::VF x) {
  if constexpr (std::is_same_v<Op, scalar::Exp>) return simd::exp(x);
  else if constexpr (std::is_same_v<Op, scalar::Sigmoid>) return simd::sigmoid(x);
  else if constexpr (std::is_same_v<Op, scalar::Erf>) return simd::erf(x);
  else return simd::tanh(x);
}

// The last m (0 < m < kFloatLanes) values of a span as one vector whose
// other lanes repeat the last of them: a span's tail takes the SIMD form
// as the rest does, so a value's result does not depend on where a span
// ends (the libm calls a scalar tail made were also ~20x slower per value),
// and the extra lanes hold a value the op sees anyway.
inline simd::VF simd_tail(const float* p, size_t m) {
  return simd::load_part(p, static_cast<int64_t>(m), p[m - 1]);
}

// x ** e by multiplication for the constant exponents formulas use most
// (std::pow costs ~5 ns an element: gelu_approx's x ** 3 took 5 ms per 1e6
// values). 2, 1, 0 and -1 give pow's results exactly; 3 and 4 round twice
// (within an ulp). Applies to float32 and float64 with the exponent one
// value for the whole span.
inline constexpr int kNoSmallPower = 99;

template <typename T>
int small_power(T e) {
  if constexpr (std::is_floating_point_v<T>) {
    for (int k : {2, 3, 4, 1, 0, -1})
      if (e == T(k)) return k;
  }
  return kNoSmallPower;
}

template <int E, typename T>
inline T power_small(T x) {
  static_assert(E >= -1 && E <= 4);
  if constexpr (E == 2) return x * x;
  else if constexpr (E == 3) return x * x * x;
  else if constexpr (E == 4) {
    const T sq = x * x;
    return sq * sq;
  } else if constexpr (E == 1) return x;
  else if constexpr (E == 0) return T(1);
  else return T(1) / x;
}

}  // namespace LMX_ISA_NS

}  // namespace lmx::cpu
