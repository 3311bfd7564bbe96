// Sorting, selection and cumulative ops along one axis.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "lmx/ops/ops.h"
#include "lmx/primitives/index.h"
#include "lmx/primitives/sort.h"

namespace lmx {

namespace {

array flat(const array& a, S s) { return reshape(a, {static_cast<ShapeElem>(a.size())}, s); }

array sort_node(const array& a, std::optional<int> axis, bool indices, const char* op, S s) {
  if (!axis) return sort_node(flat(a, s), 0, indices, op, s);
  int ax = normalize_axis(*axis, a.ndim(), op);  // a 0-d array has no axis to sort
  return array(a.shape(), indices ? uint32 : a.dtype(), std::make_shared<Sort>(to_stream(s), ax, indices), {a});
}

int checked_kth(const array& a, int kth, int ax, const char* op) {
  int n = a.shape(ax);
  if (kth < -n || kth >= n)
    throw std::invalid_argument(std::string("[") + op + "] Received invalid kth " + std::to_string(kth) +
                                " along axis " + std::to_string(ax) + " of size " + std::to_string(n) + ".");
  return kth < 0 ? kth + n : kth;
}

array scan(const array& a_in, std::optional<int> axis, bool reverse, bool inclusive, ScanType type, Dtype out,
           const char* op, S s) {
  array a = a_in.dtype() == out ? a_in : astype(a_in, out, s);
  if (!axis) return scan(flat(a, s), 0, reverse, inclusive, type, out, op, s);
  int ax = normalize_axis(*axis, a.ndim(), op);
  return array(a.shape(), out, std::make_shared<Scan>(to_stream(s), type, ax, reverse, inclusive), {a});
}

}  // namespace

array sort(const array& a, std::optional<int> axis, S s) { return sort_node(a, axis, false, "sort", s); }
array argsort(const array& a, std::optional<int> axis, S s) { return sort_node(a, axis, true, "argsort", s); }

// A full sort satisfies partition's contract (the kth element in its sorted
// place, nothing larger before it, nothing smaller after it).
array partition(const array& a, int kth, std::optional<int> axis, S s) {
  if (!axis) return partition(flat(a, s), kth, 0, s);
  checked_kth(a, kth, normalize_axis(*axis, a.ndim(), "partition"), "partition");
  return sort(a, axis, s);
}
array argpartition(const array& a, int kth, std::optional<int> axis, S s) {
  if (!axis) return argpartition(flat(a, s), kth, 0, s);
  checked_kth(a, kth, normalize_axis(*axis, a.ndim(), "argpartition"), "argpartition");
  return argsort(a, axis, s);
}

array topk(const array& a, int k, std::optional<int> axis, S s) {
  if (!axis) return topk(flat(a, s), k, 0, s);
  int ax = normalize_axis(*axis, a.ndim(), "topk");
  int n = a.shape(ax);
  if (k < 0 || k > n)
    throw std::invalid_argument("[topk] Invalid k " + std::to_string(k) + " for axis " + std::to_string(ax) +
                                " of size " + std::to_string(n) + ".");
  array sorted = sort(a, ax, s);
  Shape start(a.ndim(), 0), stop = a.shape(), step(a.ndim(), 1);
  start[ax] = n - k;
  return slice(sorted, start, stop, step, s);
}

array cumsum(const array& a, std::optional<int> axis, bool reverse, bool inclusive, std::optional<Dtype> dtype,
             S s) {
  Dtype out = dtype.value_or(a.dtype());
  if (out == bool_) out = int32;  // a running count, even when asked for bool (as MLX)
  return scan(a, axis, reverse, inclusive, ScanType::Sum, out, "cumsum", s);
}
array cumprod(const array& a, std::optional<int> axis, bool reverse, bool inclusive, std::optional<Dtype> dtype,
              S s) {
  return scan(a, axis, reverse, inclusive, ScanType::Prod, dtype.value_or(a.dtype()), "cumprod", s);
}
array cummax(const array& a, std::optional<int> axis, bool reverse, bool inclusive, S s) {
  return scan(a, axis, reverse, inclusive, ScanType::Max, a.dtype(), "cummax", s);
}
array cummin(const array& a, std::optional<int> axis, bool reverse, bool inclusive, S s) {
  return scan(a, axis, reverse, inclusive, ScanType::Min, a.dtype(), "cummin", s);
}
array logcumsumexp(const array& a, std::optional<int> axis, bool reverse, bool inclusive, S s) {
  return scan(a, axis, reverse, inclusive, ScanType::LogAddExp, to_inexact(a.dtype()), "logcumsumexp", s);
}

array median(const array& a, const std::vector<int>& axes_in, bool keepdims, S s) {
  // Sorted along the (flattened) reduced axes; the middle element, or the
  // mean of the middle two. Any NaN makes the median NaN.
  std::vector<int> axes = axes_in.empty() ? all_axes(a.ndim()) : normalize_axes(axes_in, a.ndim(), "median");
  Dtype t = is_inexact(a.dtype()) ? a.dtype() : float32;
  array x = astype(a, t, s);
  std::vector<int> kept, perm;
  std::vector<bool> red(a.ndim(), false);
  for (int ax : axes) red[ax] = true;
  Shape flat_shape;
  ShapeElem n = 1;
  for (int d = 0; d < a.ndim(); ++d)
    if (!red[d]) perm.push_back(d), flat_shape.push_back(a.shape(d));
  for (int ax : axes) perm.push_back(ax), n *= a.shape(ax);
  if (n == 0) throw std::invalid_argument("[median] Cannot take the median over an empty axis.");
  flat_shape.push_back(n);
  array sorted = sort(reshape(transpose(x, perm, s), flat_shape, s), -1, s);
  int last = static_cast<int>(flat_shape.size()) - 1;
  auto pick = [&](ShapeElem i) {
    Shape st(flat_shape.size(), 0), sp = flat_shape, step(flat_shape.size(), 1);
    st[last] = i, sp[last] = i + 1;
    return squeeze(slice(sorted, st, sp, step, s), {last}, s);
  };
  array med = n % 2 ? pick(n / 2) : divide(add(pick(n / 2 - 1), pick(n / 2), s), array(2.0, t), s);
  med = where(any(isnan(x, s), axes, false, s), array(NAN, t), med, s);
  if (keepdims) {
    std::vector<int> sorted_axes = axes;
    std::sort(sorted_axes.begin(), sorted_axes.end());
    med = expand_dims(med, sorted_axes, s);
  }
  return med;
}

array diff(const array& a, int n, int axis, S s) {
  if (n < 0) throw std::invalid_argument("[diff] n must be non-negative, got " + std::to_string(n) + ".");
  int ax = normalize_axis(axis, a.ndim(), "diff");
  array x = a;
  for (int i = 0; i < n; ++i) {
    ShapeElem len = x.shape(ax);
    if (len == 0) break;
    Shape st(x.ndim(), 0), sp = x.shape(), step(x.ndim(), 1);
    Shape st2 = st, sp2 = sp;
    st[ax] = 1;
    sp2[ax] = len - 1;
    array hi = slice(x, st, sp, step, s), lo = slice(x, st2, sp2, step, s);
    x = x.dtype() == bool_ ? not_equal(hi, lo, s) : subtract(hi, lo, s);
  }
  return x;
}

array searchsorted(const array& a, const array& v, const std::string& side, S s) {
  if (side != "left" && side != "right")
    throw std::invalid_argument("[searchsorted] side must be 'left' or 'right', got '" + side + "'.");
  if (a.ndim() != 1) throw std::invalid_argument("[searchsorted] The sorted sequence must be 1-dimensional.");
  // Counts the elements that sort before v (or not after it, for 'right'),
  // in the promoted type, with NaN sorting last.
  Dtype t = promote_types(a.dtype(), v.dtype());
  array x = astype(a, t, s), y = expand_dims(astype(v, t, s), {-1}, s);
  array before;
  if (side == "left") {
    before = less(x, y, s);
    if (is_inexact(t)) before = logical_or(before, logical_and(isnan(y, s), logical_not(isnan(x, s), s), s), s);
  } else {
    before = less_equal(x, y, s);
    if (is_inexact(t)) before = logical_or(before, isnan(y, s), s);
  }
  return astype(sum(before, {-1}, false, s), uint32, s);
}

std::vector<array> unique(const array& a, int size, bool return_index, bool return_inverse, bool return_counts,
                          const std::optional<array>& fill_value, S s) {
  if (size < 0) throw std::invalid_argument("[unique] Received negative size " + std::to_string(size) + ".");
  ShapeElem n = static_cast<ShapeElem>(a.size());
  if (n == 0 && size > 0 && !fill_value)
    throw std::invalid_argument("[unique] A fill value is required for an empty input with a non-zero size.");
  // Sorted copy; a new value starts wherever it differs from its
  // predecessor (so every NaN is its own value, as MLX); rank[i] is the
  // output slot of sorted element i.
  array flat = reshape(a, {n}, s);
  array order = argsort(flat, 0, s);
  array sorted = take(flat, order, 0, s);
  array first = ones({n}, bool_, s);
  if (n > 1)
    first = concatenate({ones({1}, bool_, s), not_equal(slice(sorted, {1}, {n}, {1}, s), slice(sorted, {0}, {n - 1}, {1}, s), s)},
                        0, s);
  array rank = subtract(cumsum(first, 0, false, true, int32, s), array(1), s);
  ShapeElem slots = std::max<ShapeElem>(n, size);
  auto first_slots = [&](const array& x) { return slice(x, {0}, {size}, {1}, s); };
  array fill = fill_value ? astype(reshape(*fill_value, {}, s), a.dtype(), s)
                          : (n > 0 ? reshape(slice(sorted, {0}, {1}, {1}, s), {}, s) : zeros({}, a.dtype(), s));
  std::vector<array> out;
  out.push_back(n == 0 ? full({size}, fill, s)
                       : first_slots(scatter(full({slots}, fill, s), {rank}, sorted, {0}, ScatterMode::Replace, s)));
  if (return_index) {
    // The first occurrence: the smallest original position in each slot;
    // empty slots repeat the first unique's.
    array none = full({slots}, array(static_cast<uint32_t>(std::max<ShapeElem>(n, 1))), uint32, s);
    array idx = n == 0 ? none : scatter(none, {rank}, order, {0}, ScatterMode::Min, s);
    array head = n == 0 ? array(0u) : reshape(slice(idx, {0}, {1}, {1}, s), {}, s);
    idx = where(equal(idx, none, s), head, idx, s);
    out.push_back(first_slots(idx));
  }
  if (return_inverse) {
    array inv = n == 0 ? zeros({0}, uint32, s)
                       : scatter(zeros({n}, uint32, s), {order}, astype(rank, uint32, s), {0}, ScatterMode::Replace, s);
    inv = minimum(inv, array(static_cast<uint32_t>(std::max(size - 1, 0))), s);
    out.push_back(reshape(inv, a.shape(), s));
  }
  if (return_counts) {
    array counts = n == 0 ? zeros({slots}, int32, s)
                          : scatter(zeros({slots}, int32, s), {rank}, ones({n}, int32, s), {0}, ScatterMode::Add, s);
    out.push_back(first_slots(counts));
  }
  return out;
}

}  // namespace lmx
