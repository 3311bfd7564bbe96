// The single definition of every elementwise operation: scalar functors that
// the CPU kernels (and the CUDA kernels) instantiate, plus the op tables that
// list each op with the element types its kernels are built for and the kind
// of result it gives. Inputs of 16-bit float types arrive already widened to
// float; results are rounded once by the kernel's store.
#pragma once

#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "lmx/backend/common/cast.h"
#include "lmx/primitives/elementwise_table.h"
#include "lmx/backend/common/isa_namespace.h"

namespace lmx::scalar {

inline namespace LMX_ISA_NS {

template <typename T>
inline constexpr bool is_int_v = std::is_integral_v<T>;  // bool included

}  // namespace LMX_ISA_NS
}  // namespace lmx::scalar

namespace lmx {
inline namespace LMX_ISA_NS {

// Result type of an op on input type T (the op tables' fourth column).
template <typename T> struct result_Same { using type = T; };
template <typename T> struct result_Bool { using type = bool; };
template <typename T> struct result_RealPart {
  using type = std::conditional_t<is_complex_v<T>, float, T>;
};

// Membership of T in an op's kernel type set (the op tables' third column).
template <typename T>
struct kernel_set {
  static constexpr bool is_float = std::is_floating_point_v<T> || is_half_v<T>;
  static constexpr bool All = true;
  static constexpr bool Real = !is_complex_v<T>;
  static constexpr bool Inexact = is_float || is_complex_v<T>;
  static constexpr bool Float = is_float;
  static constexpr bool Integral = std::is_integral_v<T>;
  static constexpr bool Complex = is_complex_v<T>;
};

}  // namespace LMX_ISA_NS
}  // namespace lmx

namespace lmx::scalar {
inline namespace LMX_ISA_NS {

// ---------------- unary ----------------

struct Abs {
  template <typename T>
  LMX_HD auto operator()(T x) const {
    if constexpr (is_complex_v<T>) return std::abs(x);
    else if constexpr (std::is_unsigned_v<T>) return x;
    else return static_cast<T>(x < T(0) ? -x : x);
  }
};
struct Sign {
  template <typename T>
  LMX_HD T operator()(T x) const {
    if constexpr (is_complex_v<T>) {
      float m = std::abs(x);
      return m == 0.0f ? T(0) : x / m;
    } else if constexpr (std::is_unsigned_v<T>) {
      return static_cast<T>(x != T(0));
    } else if constexpr (std::is_floating_point_v<T>) {
      // NaN compares false both ways, so its sign is 0 (as in MLX).
      return static_cast<T>((x > T(0)) - (x < T(0)));
    } else {
      return static_cast<T>((x > T(0)) - (x < T(0)));
    }
  }
};
struct Negative {
  template <typename T>
  LMX_HD T operator()(T x) const { return static_cast<T>(-x); }
};
struct Square {
  template <typename T>
  LMX_HD T operator()(T x) const { return static_cast<T>(x * x); }
};
struct Sqrt {
  template <typename T>
  LMX_HD T operator()(T x) const { return std::sqrt(x); }
};
struct Rsqrt {
  template <typename T>
  LMX_HD T operator()(T x) const { return T(1) / std::sqrt(x); }
};
struct Reciprocal {
  template <typename T>
  LMX_HD T operator()(T x) const { return T(1) / x; }
};
struct Exp {
  static constexpr int kCost = 16;
  template <typename T>
  LMX_HD T operator()(T x) const { return std::exp(x); }
};
struct Expm1 {
  static constexpr int kCost = 16;
  template <typename T>
  LMX_HD T operator()(T x) const {
    return std::expm1(x);
  }
};
struct Log {
  static constexpr int kCost = 16;
  template <typename T>
  LMX_HD T operator()(T x) const { return std::log(x); }
};
struct Log2 {
  static constexpr int kCost = 16;
  template <typename T>
  LMX_HD T operator()(T x) const {
    if constexpr (is_complex_v<T>) return std::log(x) / std::log(2.0f);
    else return std::log2(x);
  }
};
struct Log10 {
  static constexpr int kCost = 16;
  template <typename T>
  LMX_HD T operator()(T x) const { return std::log10(x); }
};
struct Log1p {
  static constexpr int kCost = 16;
  template <typename T>
  LMX_HD T operator()(T x) const {
    if constexpr (is_complex_v<T>) return std::log(T(1) + x);
    else return std::log1p(x);
  }
};
// kCost: rough cost of one element in simple-arithmetic units; kernels use
// it to decide when splitting work over threads pays (default 1).
#define LMX_STD_UNARY(Name, fn)                      \
  struct Name {                                      \
    static constexpr int kCost = 16;                 \
    template <typename T>                            \
    LMX_HD T operator()(T x) const { return std::fn(x); } \
  };
LMX_STD_UNARY(Sin, sin)
LMX_STD_UNARY(Cos, cos)
LMX_STD_UNARY(Tan, tan)
LMX_STD_UNARY(ArcSin, asin)
LMX_STD_UNARY(ArcCos, acos)
LMX_STD_UNARY(ArcTan, atan)
LMX_STD_UNARY(Sinh, sinh)
LMX_STD_UNARY(Cosh, cosh)
struct Tanh {
  static constexpr int kCost = 16;
  template <typename T>
  LMX_HD T operator()(T x) const {
    if constexpr (is_complex_v<T>) {
      return std::tanh(x);
    } else {
#ifdef __CUDA_ARCH__
      return std::tanh(x);  // the device's own is fast and accurate
#else
      // Through exp (about twice as fast as libm's tanh): expm1 near 0 keeps
      // small values accurate; past `one` the result rounds to +-1.
      constexpr T one = sizeof(T) == 4 ? T(9.1) : T(19.1);
      T ax = std::fabs(x), r;
      if (ax < T(0.55)) {
        T e = std::expm1(2 * ax);
        r = e / (e + 2);
      } else {
        r = ax > one ? T(1) : T(1) - T(2) / (std::exp(2 * ax) + T(1));
      }
      return std::copysign(r, x);
#endif
    }
  }
};
LMX_STD_UNARY(ArcSinh, asinh)
LMX_STD_UNARY(ArcCosh, acosh)
LMX_STD_UNARY(ArcTanh, atanh)
LMX_STD_UNARY(Erf, erf)
#undef LMX_STD_UNARY

struct ErfInv {
  static constexpr int kCost = 16;
  // Giles' single-precision approximation, refined by Newton steps on erf
  // so float64 reaches full precision.
  template <typename T>
  LMX_HD T operator()(T y) const {
    if (y <= T(-1)) return y == T(-1) ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::quiet_NaN();
    if (y >= T(1)) return y == T(1) ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::quiet_NaN();
    double x = static_cast<double>(y);
    double w = -std::log((1.0 - x) * (1.0 + x)), p;
    if (w < 5.0) {
      w -= 2.5;
      p = 2.81022636e-08;
      p = 3.43273939e-07 + p * w;
      p = -3.5233877e-06 + p * w;
      p = -4.39150654e-06 + p * w;
      p = 0.00021858087 + p * w;
      p = -0.00125372503 + p * w;
      p = -0.00417768164 + p * w;
      p = 0.246640727 + p * w;
      p = 1.50140941 + p * w;
    } else {
      w = std::sqrt(w) - 3.0;
      p = -0.000200214257;
      p = 0.000100950558 + p * w;
      p = 0.00134934322 + p * w;
      p = -0.00367342844 + p * w;
      p = 0.00573950773 + p * w;
      p = -0.0076224613 + p * w;
      p = 0.00943887047 + p * w;
      p = 1.00167406 + p * w;
      p = 2.83297682 + p * w;
    }
    double r = p * x;
    for (int i = 0; i < 2; ++i) {  // Newton: erf'(r) = 2/sqrt(pi) exp(-r^2)
      double err = std::erf(r) - x;
      r -= err / (1.1283791670955126 * std::exp(-r * r));
    }
    return static_cast<T>(r);
  }
};
struct Sigmoid {
  static constexpr int kCost = 16;
  template <typename T>
  LMX_HD T operator()(T x) const {
    // 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below, so exp never
    // overflows; one exp and one division either way, chosen without a
    // branch (a GPU warp with both signs ran both branches).
    const T e = std::exp(-std::fabs(x));
    return (x >= T(0) ? T(1) : e) / (T(1) + e);
  }
};
struct Floor {
  template <typename T>
  LMX_HD T operator()(T x) const {
    if constexpr (is_int_v<T>) return x;
    else return std::floor(x);
  }
};
struct Ceil {
  template <typename T>
  LMX_HD T operator()(T x) const {
    if constexpr (is_int_v<T>) return x;
    else return std::ceil(x);
  }
};
struct Round {  // half to even, as NumPy
  template <typename T>
  LMX_HD T operator()(T x) const {
    if constexpr (is_int_v<T>) return x;
    else if constexpr (is_complex_v<T>) return T(std::nearbyint(x.real()), std::nearbyint(x.imag()));
    else return std::nearbyint(x);
  }
};
struct LogicalNot {
  template <typename T>
  LMX_HD bool operator()(T x) const { return !cast_value<bool>(x); }
};
struct BitwiseInvert {
  template <typename T>
  LMX_HD T operator()(T x) const {
    if constexpr (std::is_same_v<T, bool>) return !x;
    else return static_cast<T>(~x);
  }
};
template <typename Pred>
struct FloatPredicate {
  template <typename T>
  LMX_HD bool operator()(T x) const {
    if constexpr (is_int_v<T>) return false;
    else if constexpr (is_complex_v<T>) return Pred{}(x.real()) || Pred{}(x.imag());
    else return Pred{}(x);
  }
};
struct NanPred { template <typename T> LMX_HD bool operator()(T x) const { return std::isnan(x); } };
struct InfPred { template <typename T> LMX_HD bool operator()(T x) const { return std::isinf(x); } };
struct PosInfPred { template <typename T> LMX_HD bool operator()(T x) const { return std::isinf(x) && x > 0; } };
struct NegInfPred { template <typename T> LMX_HD bool operator()(T x) const { return std::isinf(x) && x < 0; } };
using IsNaN = FloatPredicate<NanPred>;
using IsInf = FloatPredicate<InfPred>;
using IsPosInf = FloatPredicate<PosInfPred>;
using IsNegInf = FloatPredicate<NegInfPred>;
struct IsFinite {
  template <typename T>
  LMX_HD bool operator()(T x) const {
    if constexpr (is_int_v<T>) return true;
    else if constexpr (is_complex_v<T>) return std::isfinite(x.real()) && std::isfinite(x.imag());
    else return std::isfinite(x);
  }
};
struct Real {
  template <typename T>
  LMX_HD float operator()(T x) const { return x.real(); }
};
struct Imag {
  template <typename T>
  LMX_HD float operator()(T x) const { return x.imag(); }
};
struct Conjugate {
  template <typename T>
  LMX_HD T operator()(T x) const { return std::conj(x); }
};

// ---------------- binary ----------------

// Complex numbers order lexicographically (real part, then imaginary), as MLX.
template <typename T>
LMX_HD bool lex_less(T a, T b) {
  return a.real() < b.real() || (a.real() == b.real() && a.imag() < b.imag());
}

struct Add {
  template <typename T>
  LMX_HD T operator()(T a, T b) const { return static_cast<T>(a + b); }
};
struct Subtract {
  template <typename T>
  LMX_HD T operator()(T a, T b) const { return static_cast<T>(a - b); }
};
struct Multiply {
  template <typename T>
  LMX_HD T operator()(T a, T b) const { return static_cast<T>(a * b); }
};
struct Divide {
  template <typename T>
  LMX_HD T operator()(T a, T b) const { return a / b; }
};
struct FloorDivide {
  template <typename T>
  LMX_HD T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, bool>) {
      return a && b;
    } else if constexpr (is_int_v<T>) {
      if (b == 0) return 0;  // as MLX: no trap on integer division by zero
      if constexpr (std::is_signed_v<T>) {
        if (b == T(-1)) return static_cast<T>(-a);  // avoids INT_MIN / -1
        T q = static_cast<T>(a / b);
        return static_cast<T>(((a % b) != 0 && ((a < 0) != (b < 0))) ? q - 1 : q);
      } else {
        return static_cast<T>(a / b);
      }
    } else {
      return std::floor(a / b);
    }
  }
};
struct Remainder {  // result takes the divisor's sign, as NumPy
  template <typename T>
  LMX_HD T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, bool>) {
      return b ? false : a;
    } else if constexpr (is_int_v<T>) {
      if (b == 0) return a;
      if constexpr (std::is_signed_v<T>) {
        if (b == T(-1)) return 0;
        T r = static_cast<T>(a % b);
        return static_cast<T>((r != 0 && ((r < 0) != (b < 0))) ? r + b : r);
      } else {
        return static_cast<T>(a % b);
      }
    } else {
      T r = std::fmod(a, b);
      if (r != T(0) && ((r < T(0)) != (b < T(0)))) r += b;
      return r;
    }
  }
};
struct Power {
  static constexpr int kCost = 16;
  template <typename T>
  LMX_HD T operator()(T base, T exp) const {
    if constexpr (std::is_same_v<T, bool>) {
      return base || !exp;
    } else if constexpr (is_int_v<T>) {
      if constexpr (std::is_signed_v<T>) {
        if (exp < 0) {  // truncated 1 / base^-exp
          if (base == 1) return 1;
          if (base == -1) return (exp & 1) ? -1 : 1;
          return 0;
        }
      }
      T result = 1;
      while (exp) {
        if (exp & 1) result = static_cast<T>(result * base);
        base = static_cast<T>(base * base);
        exp = static_cast<T>(exp >> 1);
      }
      return result;
    } else {
      return std::pow(base, exp);
    }
  }
};
struct Maximum {  // NaN wins, as NumPy
  template <typename T>
  LMX_HD T operator()(T a, T b) const {
    if constexpr (is_complex_v<T>) {
      return lex_less(a, b) ? b : a;
    } else {
      if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(a)) return a;
        if (std::isnan(b)) return b;
      }
      return a > b ? a : b;
    }
  }
};
struct Minimum {
  template <typename T>
  LMX_HD T operator()(T a, T b) const {
    if constexpr (is_complex_v<T>) {
      return lex_less(b, a) ? b : a;
    } else {
      if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(a)) return a;
        if (std::isnan(b)) return b;
      }
      return a < b ? a : b;
    }
  }
};
struct ArcTan2 {
  static constexpr int kCost = 16;
  template <typename T>
  LMX_HD T operator()(T a, T b) const { return std::atan2(a, b); }
};
struct LogAddExp {
  static constexpr int kCost = 16;
  template <typename T>
  LMX_HD T operator()(T a, T b) const {
    if constexpr (is_complex_v<T>) {
      // Factor out the operand with the larger real part so exp cannot overflow;
      // a real part of -inf contributes nothing (it is the scans' identity).
      if (std::isinf(a.real()) && a.real() < 0) return b;
      if (std::isinf(b.real()) && b.real() < 0) return a;
      T m = a.real() >= b.real() ? a : b, o = a.real() >= b.real() ? b : a;
      return m + std::log(T(1) + std::exp(o - m));
    } else {
      return real(a, b);
    }
  }

 private:
  template <typename T>
  LMX_HD static T real(T a, T b) {
    if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    T m = a > b ? a : b;
    if (std::isinf(m)) return m;  // both -inf, or one +inf
    return m + std::log1p(std::exp(-std::fabs(a - b)));
  }
};
#define LMX_COMPARE(Name, op)                                     \
  struct Name {                                                   \
    template <typename T>                                         \
    LMX_HD bool operator()(T a, T b) const { return a op b; }            \
  };
LMX_COMPARE(Equal, ==)
LMX_COMPARE(NotEqual, !=)
#undef LMX_COMPARE
#define LMX_ORDER(Name, op, complex_expr)                          \
  struct Name {                                                    \
    template <typename T>                                          \
    LMX_HD bool operator()(T a, T b) const {                              \
      if constexpr (is_complex_v<T>) return complex_expr;          \
      else return a op b;                                          \
    }                                                              \
  };
LMX_ORDER(Less, <, lex_less(a, b))
LMX_ORDER(LessEqual, <=, !lex_less(b, a))
LMX_ORDER(Greater, >, lex_less(b, a))
LMX_ORDER(GreaterEqual, >=, !lex_less(a, b))
#undef LMX_ORDER
struct NaNEqual {
  template <typename T>
  LMX_HD bool operator()(T a, T b) const {
    if constexpr (is_complex_v<T>) {
      return NaNEqual{}(a.real(), b.real()) && NaNEqual{}(a.imag(), b.imag());
    } else {
      return a == b || (std::isnan(a) && std::isnan(b));
    }
  }
};
struct LogicalAnd {
  template <typename T>
  LMX_HD bool operator()(T a, T b) const { return cast_value<bool>(a) && cast_value<bool>(b); }
};
struct LogicalOr {
  template <typename T>
  LMX_HD bool operator()(T a, T b) const { return cast_value<bool>(a) || cast_value<bool>(b); }
};
struct BitwiseAnd {
  template <typename T>
  LMX_HD T operator()(T a, T b) const { return static_cast<T>(a & b); }
};
struct BitwiseOr {
  template <typename T>
  LMX_HD T operator()(T a, T b) const { return static_cast<T>(a | b); }
};
struct BitwiseXor {
  template <typename T>
  LMX_HD T operator()(T a, T b) const { return static_cast<T>(a ^ b); }
};
struct LeftShift {
  template <typename T>
  LMX_HD T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, bool>) {
      return a && !b;
    } else {
      using U = std::make_unsigned_t<T>;
      if (b < 0 || static_cast<uint64_t>(b) >= sizeof(T) * 8) return 0;
      return static_cast<T>(static_cast<U>(a) << b);
    }
  }
};
struct RightShift {
  template <typename T>
  LMX_HD T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, bool>) {
      return a && !b;
    } else {
      if (b < 0 || static_cast<uint64_t>(b) >= sizeof(T) * 8) return static_cast<T>(a < 0 ? -1 : 0);
      return static_cast<T>(a >> b);
    }
  }
};

}  // namespace LMX_ISA_NS
}  // namespace lmx::scalar

