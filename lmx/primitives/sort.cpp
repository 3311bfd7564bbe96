#include "lmx/primitives/sort.h"

#include <limits>

#include "lmx/ops/ops.h"
#include "lmx/primitives/index.h"

namespace lmx {

std::string Scan::name() const {
  switch (type_) {
    case ScanType::Sum: return "cumsum";
    case ScanType::Prod: return "cumprod";
    case ScanType::Max: return "cummax";
    case ScanType::Min: return "cummin";
    case ScanType::LogAddExp: return "logcumsumexp";
  }
  return "scan";
}

// Same shape as the input, whatever it is.
std::vector<Shape> Sort::output_shapes(const std::vector<array>& inputs) { return {inputs[0].shape()}; }
std::vector<Shape> Scan::output_shapes(const std::vector<array>& inputs) { return {inputs[0].shape()}; }

// Sorted values take their cotangent back to the positions they came from.
std::vector<array> Sort::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>&, const std::vector<array>&) {
  const array& x = primals[0];
  if (indices_) return {zeros_like(x)};
  return {put_along_axis(zeros_like(x), argsort(x, axis_), cotangents[0], axis_)};
}

namespace {

// g moved one position towards the start of `axis`, a zero entering at the
// end: an exclusive forward scan's output i is the inclusive one's i - 1.
array shift_towards_start(const array& g, int axis) {
  Shape start(g.ndim(), 0), stop = g.shape(), strides(g.ndim(), 1), end = g.shape();
  start[axis] = 1;
  end[axis] = 1;
  return concatenate({slice(g, start, stop, strides), zeros(end, g.dtype())}, axis);
}

// 0, 1, ..., n - 1 along `axis` of an ndim-dimensional array (size 1 on the others).
array positions(int n, int ndim, int axis) {
  Shape shape(ndim, 1);
  shape[axis] = n;
  return reshape(arange(0, n, 1, int32), shape);
}

// The cotangent of x for y = cumprod(x) (inclusive, forward) and y's
// cotangent g: dx_j = sum over i >= j of g_i times the product of x_k,
// k <= i, k != j. Before a row's first zero z that is
// (reverse cumsum of g y)_j / x_j; at z it is the product before z times the
// reverse cumsum of g times the products that restart after z; after z it
// is zero (every term holds x_z).
array cumprod_grad(const array& x, const array& y, const array& g, int axis) {
  const array zero = zeros({}, x.dtype()), one = ones({}, x.dtype());
  const array is_zero = equal(x, zero);
  const array zeros_so_far = cumsum(astype(is_zero, int32), axis);
  const array before_first = equal(zeros_so_far, zeros({}, int32));
  const array at_first = logical_and(is_zero, equal(zeros_so_far, ones({}, int32)));
  const array before = divide(cumsum(multiply(g, y), axis, true), where(is_zero, one, x));
  const array restarted = cumprod(where(logical_or(before_first, at_first), one, x), axis);
  const array at = multiply(cumprod(x, axis, false, false), cumsum(multiply(g, restarted), axis, true));
  return where(before_first, before, where(at_first, at, zero));
}

// cummax/cummin (inclusive, forward): output i is the input at the last
// position j <= i where the input equals the running extreme (MLX's choice
// among ties; a NaN, which the running extreme keeps, counts as equal), so
// g_i goes there.
array extreme_scan_grad(const array& x, const array& y, const array& g, int axis) {
  const array source = logical_or(equal(x, y), logical_and(isnan(x), isnan(y)));
  const array pos = positions(x.shape(axis), x.ndim(), axis);
  const array last_source = cummax(where(source, pos, full_like(pos, array(-1))), axis);
  return scatter_along_axis(zeros_like(x), last_source, g, axis, ScatterMode::Add);
}

// logcumsumexp (inclusive, forward): dx_j = sum over i >= j of
// g_i exp(x_j - y_i). Its value is summed in log space, g's positive and
// negative parts apart, which no range of x overflows (outputs of -inf, all
// inputs so far -inf, send nothing). That form is not linear in g as a graph
// (it is flat at g = 0, where jvp differentiates the rule), so the
// derivatives come from the plain form exp(x - s) * reverse cumsum of
// g exp(s - y), s the row's largest output, added as a zero-valued term
// where it is finite: past about 88 nats of spread in a float32 row (700 in
// float64) it overflows, and only those derivatives are lost.
array logcumsumexp_grad(const array& x, const array& y, const array& g, int axis) {
  const array neg_inf = full_like(y, array(-std::numeric_limits<float>::infinity()));
  auto log_space = [&](const array& h) {
    const array terms = where(isneginf(y), neg_inf, subtract(log(h), y));
    return exp(add(x, logcumsumexp(terms, axis, true)));
  };
  const array zero = zeros({}, g.dtype());
  const array value = subtract(log_space(maximum(g, zero)), log_space(maximum(negative(g), zero)));
  const array shift = stop_gradient(max(y, {axis}, true));
  const array plain = multiply(exp(subtract(x, shift)), cumsum(multiply(g, exp(subtract(shift, y))), axis, true));
  const array fixed = stop_gradient(plain);
  return add(stop_gradient(value), where(isfinite(fixed), subtract(plain, fixed), zeros_like(plain)));
}

}  // namespace

// A running sum's cotangent is the running sum of the cotangent the other
// way. The other scans are differentiated as inclusive forward scans: a
// reverse scan is a forward scan of the flipped axis, and an exclusive one's
// cotangent is the inclusive one's shifted by one position.
std::vector<array> Scan::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>&, const std::vector<array>&) {
  if (type_ == ScanType::Sum) return {cumsum(cotangents[0], axis_, !reverse_, inclusive_)};
  array x = primals[0], g = cotangents[0];
  if (x.shape(axis_) == 0) return {zeros_like(x)};
  if (reverse_) {
    x = flip(x, {axis_});
    g = flip(g, {axis_});
  }
  if (!inclusive_) g = shift_towards_start(g, axis_);
  array dx;
  switch (type_) {
    case ScanType::Prod: dx = cumprod_grad(x, cumprod(x, axis_), g, axis_); break;
    case ScanType::Max: dx = extreme_scan_grad(x, cummax(x, axis_), g, axis_); break;
    case ScanType::Min: dx = extreme_scan_grad(x, cummin(x, axis_), g, axis_); break;
    case ScanType::LogAddExp: dx = logcumsumexp_grad(x, logcumsumexp(x, axis_), g, axis_); break;
    case ScanType::Sum: break;
  }
  return {reverse_ ? flip(dx, {axis_}) : dx};
}

// Batching: the mapped axis moves to the front and the sorted/scanned axis shifts.
std::pair<std::vector<array>, std::vector<int>> Sort::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes,
                                                           const std::vector<array>& outputs) {
  array x = axes[0] == 0 ? inputs[0] : moveaxis(inputs[0], axes[0], 0);
  return {{array(x.shape(), outputs[0].dtype(), std::make_shared<Sort>(stream(), axis_ + 1, indices_), {x})}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> Scan::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes,
                                                           const std::vector<array>& outputs) {
  array x = axes[0] == 0 ? inputs[0] : moveaxis(inputs[0], axes[0], 0);
  return {{array(x.shape(), outputs[0].dtype(),
                 std::make_shared<Scan>(stream(), type_, axis_ + 1, reverse_, inclusive_), {x})},
          {0}};
}

}  // namespace lmx
