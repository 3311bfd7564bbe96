// Reductions and the statistics built from them.
#include <limits>
#include <stdexcept>

#include "lmx/ops/ops.h"
#include "lmx/primitives/reduce.h"
#include "lmx/transforms/compile.h"

namespace lmx {

namespace {

std::vector<int> reduce_axes(const array& a, const std::vector<int>& axes, const std::string& op) {
  return axes.empty() ? all_axes(a.ndim()) : normalize_axes(axes, a.ndim(), op);
}

array squeeze_reduced(const array& r, const std::vector<int>& axes, bool keepdims, S s) {
  return keepdims || axes.empty() ? r : squeeze(r, axes, s);
}

// 1 / (the number of elements reduced over `axes`, less ddof), in dtype t,
// shaped to multiply a reduction with `keepdims`; inf when nothing is left.
// A constant, except in a shapeless compile trace: there the count comes
// from the input itself (a sum of ones broadcast to it), so a replay at another
// shape divides by its own count, not the traced one.
array inverse_count(const array& a, const std::vector<int>& axes, bool keepdims, int ddof, Dtype t, S s) {
  if (!detail::in_shapeless_trace()) {
    size_t n = 1;
    for (int ax : axes) n *= a.shape(ax);
    const double left = static_cast<double>(n) - ddof;
    return array(left > 0 ? 1.0 / left : std::numeric_limits<double>::infinity(), t);
  }
  const array ones = broadcast_operand(array(1.0, t), a.shape(), {a}, s);  // follows a's shape at replay
  const array left = subtract(sum(ones, axes, keepdims, s), array(static_cast<double>(ddof), t), s);
  const array zero = zeros({}, t, s);
  return where(greater(left, zero, s), reciprocal(left, s), array(std::numeric_limits<double>::infinity(), t), s);
}

array reduce(const array& a, const std::vector<int>& axes_in, bool keepdims, ReduceType type, Dtype out,
             const std::string& op, S s) {
  auto axes = reduce_axes(a, axes_in, op);
  if (axes.empty()) return astype(a, out, s);  // a 0-d input: nothing to reduce
  if (type == ReduceType::Max || type == ReduceType::Min) {
    for (int ax : axes)
      if (a.shape(ax) == 0)
        throw std::invalid_argument("[" + op + "] Cannot " + op + " reduce over axis " + std::to_string(ax) +
                                    " with size 0.");
  }
  array r(kept_shape(a.shape(), axes), out, std::make_shared<Reduce>(to_stream(s), type, axes), {a});
  return squeeze_reduced(r, axes, keepdims, s);
}

}  // namespace

array sum(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  return reduce(a, axes, keepdims, ReduceType::Sum, sum_result_type(a.dtype()), "sum", s);
}
array prod(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  return reduce(a, axes, keepdims, ReduceType::Prod, sum_result_type(a.dtype()), "prod", s);
}
array max(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  return reduce(a, axes, keepdims, ReduceType::Max, a.dtype(), "max", s);
}
array min(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  return reduce(a, axes, keepdims, ReduceType::Min, a.dtype(), "min", s);
}
array all(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  return reduce(a, axes, keepdims, ReduceType::And, bool_, "all", s);
}
array any(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  return reduce(a, axes, keepdims, ReduceType::Or, bool_, "any", s);
}

array mean(const array& a, const std::vector<int>& axes_in, bool keepdims, S s) {
  auto axes = reduce_axes(a, axes_in, "mean");
  Dtype t = to_inexact(a.dtype());
  array total = sum(astype(a, t, s), axes, keepdims, s);
  return multiply(total, inverse_count(a, axes, keepdims, 0, total.dtype(), s), s);
}

array var(const array& a, const std::vector<int>& axes_in, bool keepdims, int ddof, S s) {
  auto axes = reduce_axes(a, axes_in, "var");
  Dtype t = to_inexact(a.dtype());
  array x = astype(a, t, s);
  array mu = mean(x, axes, true, s);
  array d = subtract(x, mu, s);
  array sq = is_complex(t) ? real(multiply(d, conjugate(d, s), s), s) : square(d, s);
  array total = sum(sq, axes, keepdims, s);
  // NaN/inf when there are no degrees of freedom left, as NumPy.
  return multiply(total, inverse_count(a, axes, keepdims, ddof, total.dtype(), s), s);
}

array std(const array& a, const std::vector<int>& axes, bool keepdims, int ddof, S s) {
  return sqrt(var(a, axes, keepdims, ddof, s), s);
}

array logsumexp(const array& a, const std::vector<int>& axes_in, bool keepdims, S s) {
  auto axes = reduce_axes(a, axes_in, "logsumexp");
  array x = astype(a, to_inexact(a.dtype()), s);
  for (int ax : axes)
    if (a.shape(ax) == 0)
      throw std::invalid_argument("[logsumexp] Cannot reduce over axis " + std::to_string(ax) + " with size 0.");
  if (x.size() == 0) return log(sum(exp(x, s), axes, keepdims, s), s);
  // Shift by the max so exp cannot overflow; an all -inf (or inf) row keeps
  // its max as the answer.
  array m = stop_gradient(max(x, axes, true, s), s);
  array safe_m = where(isinf(m, s), zeros({}, m.dtype(), s), m, s);  // a scalar: shapeless traces replay it
  array out = add(log(sum(exp(subtract(x, safe_m, s), s), axes, true, s), s), safe_m, s);
  out = where(isinf(m, s), m, out, s);
  return keepdims ? out : squeeze(out, axes, s);
}

array softmax(const array& a, const std::vector<int>& axes_in, bool precise, S s) {
  auto axes = reduce_axes(a, axes_in, "softmax");
  Dtype t = to_inexact(a.dtype());
  array x = astype(a, t, s);
  // `precise` computes 16-bit inputs in float32.
  if (x.size() == 0) return x;  // nothing to normalise (and no max to shift by)
  if (precise && (t == float16 || t == bfloat16)) x = astype(x, float32, s);
  array e = exp(subtract(x, stop_gradient(max(x, axes, true, s), s), s), s);
  return astype(divide(e, sum(e, axes, true, s), s), t, s);
}

array count_nonzero(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  return sum(not_equal(a, zeros({}, a.dtype(), s), s), axes, keepdims, s);
}

namespace {
array arg_reduce(const array& a, std::optional<int> axis, bool keepdims, ArgReduceType type, const char* op, S s) {
  // Complex values compare lexicographically (real, then imaginary part).
  // An empty input has no extreme anywhere, even along a non-empty axis (as MLX).
  if (a.size() == 0) throw std::invalid_argument(std::string("[") + op + "] Cannot " + op + " an empty array.");
  if (!axis) {
    array flat = reshape(a, {static_cast<ShapeElem>(a.size())}, s);
    array r = arg_reduce(flat, 0, false, type, op, s);
    return keepdims ? reshape(r, Shape(a.ndim(), 1), s) : r;
  }
  int ax = normalize_axis(*axis, a.ndim(), op);
  if (a.shape(ax) == 0)
    throw std::invalid_argument(std::string("[") + op + "] Cannot " + op + " over an empty axis.");
  Shape shape = a.shape();
  shape[ax] = 1;
  array r(shape, uint32, std::make_shared<ArgReduce>(to_stream(s), type, ax), {a});
  return keepdims ? r : squeeze(r, {ax}, s);
}
}  // namespace

array argmax(const array& a, std::optional<int> axis, bool keepdims, S s) {
  return arg_reduce(a, axis, keepdims, ArgReduceType::ArgMax, "argmax", s);
}
array argmin(const array& a, std::optional<int> axis, bool keepdims, S s) {
  return arg_reduce(a, axis, keepdims, ArgReduceType::ArgMin, "argmin", s);
}

}  // namespace lmx
