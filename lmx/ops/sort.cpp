// Sorting, selection and cumulative ops along one axis.
#include <stdexcept>

#include "lmx/ops/ops.h"
#include "lmx/primitives/sort.h"

namespace lmx {

namespace {

array flat(const array& a, S s) { return reshape(a, {static_cast<ShapeElem>(a.size())}, s); }

array sort_node(const array& a, std::optional<int> axis, bool indices, const char* op, S s) {
  if (!axis) return sort_node(flat(a, s), 0, indices, op, s);
  if (a.ndim() == 0) throw std::invalid_argument(std::string("[") + op + "] Cannot sort a 0-dimensional array.");
  int ax = normalize_axis(*axis, a.ndim(), op);
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
  if (a.ndim() == 0) return scan(reshape(a, {1}, s), 0, reverse, inclusive, type, out, op, s);
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
  Dtype out = dtype.value_or(a.dtype() == bool_ ? int32 : a.dtype());
  return scan(a, axis, reverse, inclusive, ScanType::Sum, out, "cumsum", s);
}
array cumprod(const array& a, std::optional<int> axis, bool reverse, bool inclusive, S s) {
  return scan(a, axis, reverse, inclusive, ScanType::Prod, a.dtype(), "cumprod", s);
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

}  // namespace lmx
