// Elementwise ops: dtype rules, broadcasting, and graph nodes.
#include <cmath>
#include <limits>
#include <stdexcept>

#include "lmx/ops/ops.h"
#include "lmx/primitives/elementwise.h"
#include "lmx/primitives/shape.h"

namespace lmx {

namespace {

enum class Kernels { All, Real, Inexact, Float, Integral, Complex };

#define LMX_KERNELS_ENTRY(Name, pyname, types, result) Kernels::types,
const Kernels kUnaryKernels[] = {LMX_UNARY_OPS(LMX_KERNELS_ENTRY)};
const Kernels kBinaryKernels[] = {LMX_BINARY_OPS(LMX_KERNELS_ENTRY)};
#undef LMX_KERNELS_ENTRY

[[noreturn]] void bad_dtype(const char* op, Dtype t, const char* why) {
  throw std::invalid_argument(std::string("[") + op + "] " + why + " (got " + dtype_name(t) + ").");
}

// The dtype an op's kernel runs in, given the (promoted) input dtype.
Dtype kernel_dtype(const char* op, Kernels k, Dtype t) {
  switch (k) {
    case Kernels::All: return t;
    case Kernels::Real:
      if (is_complex(t)) bad_dtype(op, t, "Not supported for complex inputs");
      return t;
    case Kernels::Inexact: return to_inexact(t);
    case Kernels::Float:
      if (is_complex(t)) bad_dtype(op, t, "Not supported for complex inputs");
      return to_inexact(t);
    case Kernels::Integral:
      if (!is_integral(t)) bad_dtype(op, t, "Only allowed on integer or boolean types");
      return t;
    case Kernels::Complex: return t;
  }
  return t;
}

array unary(UnaryOp op, const array& a, S s) {
  const char* name = op_name(op);
  Dtype t = kernel_dtype(name, kUnaryKernels[static_cast<int>(op)], a.dtype());
  array in = t == a.dtype() ? a : astype(a, t, s);
  Dtype out = t;
  switch (op) {
    case UnaryOp::LogicalNot: case UnaryOp::IsNaN: case UnaryOp::IsInf: case UnaryOp::IsPosInf:
    case UnaryOp::IsNegInf: case UnaryOp::IsFinite:
      out = bool_;
      break;
    case UnaryOp::Abs: case UnaryOp::Real: case UnaryOp::Imag:
      if (is_complex(t)) out = float32;
      break;
    default: break;
  }
  return array(in.shape(), out, std::make_shared<Unary>(to_stream(s), op), {in});
}

array binary(BinaryOp op, const array& a, const array& b, S s) {
  const char* name = op_name(op);
  Dtype t = kernel_dtype(name, kBinaryKernels[static_cast<int>(op)], promote_types(a.dtype(), b.dtype()));
  // Booleans shift as their 0/1 values in uint8, as in MLX.
  if ((op == BinaryOp::LeftShift || op == BinaryOp::RightShift) && t == bool_) t = uint8;
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  auto prep = [&](const array& x) {
    array y = x.dtype() == t ? x : astype(x, t, s);
    return broadcast_operand(y, shape, {a, b}, s);
  };
  array x = prep(a), y = prep(b);
  Dtype out = t;
  switch (op) {
    case BinaryOp::Equal: case BinaryOp::NotEqual: case BinaryOp::Less: case BinaryOp::LessEqual:
    case BinaryOp::Greater: case BinaryOp::GreaterEqual: case BinaryOp::NaNEqual:
    case BinaryOp::LogicalAnd: case BinaryOp::LogicalOr:
      out = bool_;
      break;
    default: break;
  }
  return array(std::move(shape), out, std::make_shared<Binary>(to_stream(s), op), {x, y});
}

array scalar_like(double v, const array& a) { return array(v, a.dtype()); }

}  // namespace

#define LMX_DEFINE_UNARY(fn, Op) \
  array fn(const array& a, S s) { return unary(UnaryOp::Op, a, s); }
LMX_DEFINE_UNARY(sqrt, Sqrt)
LMX_DEFINE_UNARY(rsqrt, Rsqrt)
LMX_DEFINE_UNARY(reciprocal, Reciprocal)
LMX_DEFINE_UNARY(exp, Exp)
LMX_DEFINE_UNARY(expm1, Expm1)
LMX_DEFINE_UNARY(log, Log)
LMX_DEFINE_UNARY(log2, Log2)
LMX_DEFINE_UNARY(log10, Log10)
LMX_DEFINE_UNARY(log1p, Log1p)
LMX_DEFINE_UNARY(sin, Sin)
LMX_DEFINE_UNARY(cos, Cos)
LMX_DEFINE_UNARY(tan, Tan)
LMX_DEFINE_UNARY(arcsin, ArcSin)
LMX_DEFINE_UNARY(arccos, ArcCos)
LMX_DEFINE_UNARY(arctan, ArcTan)
LMX_DEFINE_UNARY(sinh, Sinh)
LMX_DEFINE_UNARY(cosh, Cosh)
LMX_DEFINE_UNARY(tanh, Tanh)
LMX_DEFINE_UNARY(arcsinh, ArcSinh)
LMX_DEFINE_UNARY(arccosh, ArcCosh)
LMX_DEFINE_UNARY(arctanh, ArcTanh)
LMX_DEFINE_UNARY(erf, Erf)
LMX_DEFINE_UNARY(erfinv, ErfInv)
LMX_DEFINE_UNARY(sigmoid, Sigmoid)
LMX_DEFINE_UNARY(logical_not, LogicalNot)
LMX_DEFINE_UNARY(bitwise_invert, BitwiseInvert)
LMX_DEFINE_UNARY(isnan, IsNaN)
LMX_DEFINE_UNARY(isinf, IsInf)
LMX_DEFINE_UNARY(isfinite, IsFinite)
LMX_DEFINE_UNARY(sign, Sign)
LMX_DEFINE_UNARY(square, Square)
#undef LMX_DEFINE_UNARY

array abs(const array& a, S s) {
  // Magnitudes of unsigned and bool values are the values themselves.
  if (is_unsigned(a.dtype()) || a.dtype() == bool_) return a;
  return unary(UnaryOp::Abs, a, s);
}

array negative(const array& a, S s) {
  if (a.dtype() == bool_)
    throw std::invalid_argument("[negative] Not supported for bool, use logical_not instead.");
  return unary(UnaryOp::Negative, a, s);
}

array floor(const array& a, S s) {
  if (is_integral(a.dtype())) return a;
  return unary(UnaryOp::Floor, a, s);
}
array ceil(const array& a, S s) {
  if (is_integral(a.dtype())) return a;
  return unary(UnaryOp::Ceil, a, s);
}

// A complex value is +-inf only as (+-inf, 0), as MLX compares it.
array isposinf(const array& a, S s) {
  if (is_integral(a.dtype())) return full(a.shape(), array(false), bool_, s);
  if (is_complex(a.dtype())) return equal(a, scalar_like(INFINITY, a), s);
  return unary(UnaryOp::IsPosInf, a, s);
}
array isneginf(const array& a, S s) {
  if (is_integral(a.dtype())) return full(a.shape(), array(false), bool_, s);
  if (is_complex(a.dtype())) return equal(a, scalar_like(-INFINITY, a), s);
  return unary(UnaryOp::IsNegInf, a, s);
}

array real(const array& a, S s) {
  if (!is_complex(a.dtype())) return a;
  return unary(UnaryOp::Real, a, s);
}
array imag(const array& a, S s) {
  if (!is_complex(a.dtype())) return zeros_like(a, {}, s);
  return unary(UnaryOp::Imag, a, s);
}
array conjugate(const array& a, S s) {
  if (!is_complex(a.dtype())) return a;
  return unary(UnaryOp::Conjugate, a, s);
}

array stop_gradient(const array& a, S s) {
  return array(a.shape(), a.dtype(), std::make_shared<StopGradient>(to_stream(s)), {a});
}

array degrees(const array& a, S s) {
  array x = astype(a, to_inexact(a.dtype()), s);
  return multiply(x, scalar_like(180.0 / M_PI, x), s);
}
array radians(const array& a, S s) {
  array x = astype(a, to_inexact(a.dtype()), s);
  return multiply(x, scalar_like(M_PI / 180.0, x), s);
}

array round(const array& a, int decimals, S s) {
  if (is_integral(a.dtype())) {
    if (decimals >= 0 || a.dtype() == bool_) return a;
    // Round to a multiple of 10^-decimals, ties to even, exact below 2^53.
    array x = astype(a, float64, s);
    array unit = scalar_like(std::pow(10.0, -decimals), x);
    return astype(multiply(unary(UnaryOp::Round, divide(x, unit, s), s), unit, s), a.dtype(), s);
  }
  if (decimals == 0) return unary(UnaryOp::Round, a, s);
  array scale = scalar_like(std::pow(10.0, decimals), a);
  return divide(unary(UnaryOp::Round, multiply(a, scale, s), s), scale, s);
}

array nan_to_num(const array& a, float nan, std::optional<float> posinf, std::optional<float> neginf, S s) {
  if (!is_inexact(a.dtype())) return a;
  if (is_complex(a.dtype()))
    throw std::invalid_argument("[nan_to_num] Not supported for complex inputs.");
  // Infinities map to the dtype's finite extremes unless given.
  double hi;
  switch (a.dtype().val()) {
    case Dtype::Val::float16: hi = 65504.0; break;
    case Dtype::Val::bfloat16: hi = 3.3895313892515355e38; break;
    case Dtype::Val::float64: hi = std::numeric_limits<double>::max(); break;
    default: hi = std::numeric_limits<float>::max();
  }
  array p = scalar_like(posinf ? *posinf : hi, a);
  array n = scalar_like(neginf ? *neginf : -hi, a);
  array out = where(isnan(a, s), scalar_like(nan, a), a, s);
  out = where(isposinf(a, s), p, out, s);
  return where(isneginf(a, s), n, out, s);
}

#define LMX_DEFINE_BINARY(fn, Op) \
  array fn(const array& a, const array& b, S s) { return binary(BinaryOp::Op, a, b, s); }
LMX_DEFINE_BINARY(add, Add)
LMX_DEFINE_BINARY(subtract, Subtract)
LMX_DEFINE_BINARY(multiply, Multiply)
LMX_DEFINE_BINARY(divide, Divide)
LMX_DEFINE_BINARY(floor_divide, FloorDivide)
LMX_DEFINE_BINARY(remainder, Remainder)
LMX_DEFINE_BINARY(power, Power)
LMX_DEFINE_BINARY(maximum, Maximum)
LMX_DEFINE_BINARY(minimum, Minimum)
LMX_DEFINE_BINARY(arctan2, ArcTan2)
LMX_DEFINE_BINARY(logaddexp, LogAddExp)
LMX_DEFINE_BINARY(equal, Equal)
LMX_DEFINE_BINARY(not_equal, NotEqual)
LMX_DEFINE_BINARY(less, Less)
LMX_DEFINE_BINARY(less_equal, LessEqual)
LMX_DEFINE_BINARY(greater, Greater)
LMX_DEFINE_BINARY(greater_equal, GreaterEqual)
LMX_DEFINE_BINARY(logical_and, LogicalAnd)
LMX_DEFINE_BINARY(logical_or, LogicalOr)
LMX_DEFINE_BINARY(bitwise_and, BitwiseAnd)
LMX_DEFINE_BINARY(bitwise_or, BitwiseOr)
LMX_DEFINE_BINARY(bitwise_xor, BitwiseXor)
LMX_DEFINE_BINARY(left_shift, LeftShift)
LMX_DEFINE_BINARY(right_shift, RightShift)
#undef LMX_DEFINE_BINARY

array logical_xor(const array& a, const array& b, S s) {
  return not_equal(astype(a, bool_, s), astype(b, bool_, s), s);
}

std::pair<array, array> divmod(const array& a, const array& b, S s) {
  return {floor_divide(a, b, s), remainder(a, b, s)};
}

Dtype result_type(const std::vector<array>& arrays) {
  if (arrays.empty()) throw std::invalid_argument("[result_type] Needs at least one array.");
  Dtype t = arrays[0].dtype();
  for (auto& a : arrays) t = promote_types(t, a.dtype());
  return t;
}

array where(const array& cond, const array& x, const array& y, S s) {
  Dtype t = promote_types(x.dtype(), y.dtype());
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), x.shape(), "where"), y.shape(), "where");
  auto prep = [&](const array& v, Dtype d) {
    array r = v.dtype() == d ? v : astype(v, d, s);
    return broadcast_operand(r, shape, {cond, x, y}, s);
  };
  return array(shape, t, std::make_shared<Select>(to_stream(s)), {prep(cond, bool_), prep(x, t), prep(y, t)});
}

array clip(const array& a, const std::optional<array>& lo, const std::optional<array>& hi, S s) {
  if (!lo && !hi) throw std::invalid_argument("[clip] At most one of a_min and a_max may be None.");
  array out = a;
  if (lo) out = maximum(out, *lo, s);
  if (hi) out = minimum(out, *hi, s);
  return out;
}

array isclose(const array& a, const array& b, double rtol, double atol, bool equal_nan, S s) {
  // |a - b| <= atol + rtol * |b|, with infinities equal only to themselves.
  Dtype t = to_inexact(promote_types(a.dtype(), b.dtype()));
  array x = astype(a, t, s), y = astype(b, t, s);
  array diff = abs(subtract(x, y, s), s);
  array tol = add(scalar_like(atol, diff), multiply(scalar_like(rtol, diff), abs(y, s), s), s);
  array close = less_equal(diff, tol, s);
  // An infinity makes the tolerance infinite too, so only finite pairs use it.
  array finite = logical_and(isfinite(x, s), isfinite(y, s), s);
  array both_inf = logical_and(equal(x, y, s), logical_or(isinf(x, s), isinf(y, s), s), s);
  close = logical_or(logical_and(close, finite, s), both_inf, s);
  if (equal_nan) close = logical_or(close, logical_and(isnan(x, s), isnan(y, s), s), s);
  return close;
}

array allclose(const array& a, const array& b, double rtol, double atol, bool equal_nan, S s) {
  return all(isclose(a, b, rtol, atol, equal_nan, s), {}, false, s);
}

array array_equal(const array& a, const array& b, bool equal_nan, S s) {
  if (a.shape() != b.shape()) return array(false);
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (equal_nan && is_inexact(t)) return all(binary(BinaryOp::NaNEqual, a, b, s), {}, false, s);
  return all(equal(a, b, s), {}, false, s);
}

}  // namespace lmx
