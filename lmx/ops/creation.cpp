// Creation ops: ranges, constants, identity-like matrices, copies and views.
#include <cmath>
#include <stdexcept>

#include "lmx/ops/ops.h"
#include "lmx/primitives/elementwise.h"
#include "lmx/primitives/shape.h"

namespace lmx {

array arange(double start, double stop, double step, Dtype dtype, S s) {
  if (step == 0) throw std::invalid_argument("[arange] Cannot compute length with step 0.");
  if (std::isnan(start) || std::isnan(stop) || std::isnan(step) || std::isinf(start) || std::isinf(stop))
    throw std::invalid_argument("[arange] Cannot compute length with non-finite bounds.");
  if (dtype == bool_) throw std::invalid_argument("[arange] Cannot make a range of booleans.");
  // Complex ranges are real ranges with zero imaginary parts.
  if (is_complex(dtype)) return astype(arange(start, stop, step, float32, s), dtype, s);
  double len = std::ceil((stop - start) / step);
  if (len > static_cast<double>(std::numeric_limits<ShapeElem>::max()))
    throw std::invalid_argument("[arange] Maximum size exceeded.");
  ShapeElem n = len > 0 ? static_cast<ShapeElem>(len) : 0;
  return array({n}, dtype, std::make_shared<Arange>(to_stream(s), start, step), {});
}

array linspace(double start, double stop, int num, bool endpoint, Dtype dtype, S s) {
  if (num < 0) throw std::invalid_argument("[linspace] num must be non-negative, got " + std::to_string(num) + ".");
  if (num == 1) return astype(reshape(array(start), {1}, s), dtype, s);
  int intervals = endpoint ? num - 1 : num;
  double step = num > 1 ? (stop - start) / intervals : 0.0;
  // start + i * step in float64, then the exact end point, as NumPy.
  array r = arange(0, num, 1, float64, s);
  array v = add(multiply(r, array(step), s), array(start), s);
  if (num > 1 && endpoint) v = slice_update(v, array(stop), {num - 1}, {num}, {1}, s);
  return astype(v, dtype, s);
}

array full(Shape shape, const array& value, Dtype dtype, S s) {
  for (auto d : shape)
    if (d < 0) throw std::invalid_argument("[full] Negative dimensions are not allowed.");
  array v = value.dtype() == dtype ? value : astype(value, dtype, s);
  return array(std::move(shape), dtype, std::make_shared<AsType>(to_stream(s)), {broadcast_to(v, shape, s)});
}

array full(Shape shape, const array& value, S s) { return full(std::move(shape), value, value.dtype(), s); }
array zeros(const Shape& shape, Dtype dtype, S s) { return full(shape, array(false), dtype, s); }
array ones(const Shape& shape, Dtype dtype, S s) { return full(shape, array(true), dtype, s); }
array zeros_like(const array& a, std::optional<Dtype> dtype, S s) { return zeros(a.shape(), dtype.value_or(a.dtype()), s); }
array ones_like(const array& a, std::optional<Dtype> dtype, S s) { return ones(a.shape(), dtype.value_or(a.dtype()), s); }
array full_like(const array& a, const array& value, std::optional<Dtype> dtype, S s) {
  return full(a.shape(), value, dtype.value_or(a.dtype()), s);
}

array tri(int n, int m, int k, Dtype dtype, S s) {
  if (n < 0 || m < 0) throw std::invalid_argument("[tri] Dimensions must be non-negative.");
  array rows = reshape(arange(0, n, 1, int32, s), {n, 1}, s);
  array cols = reshape(arange(0, m, 1, int32, s), {1, m}, s);
  return astype(greater_equal(add(rows, array(k), s), cols, s), dtype, s);
}

array eye(int n, int m, int k, Dtype dtype, S s) {
  if (n < 0 || m < 0) throw std::invalid_argument("[eye] Dimensions must be non-negative.");
  array rows = reshape(arange(0, n, 1, int32, s), {n, 1}, s);
  array cols = reshape(arange(0, m, 1, int32, s), {1, m}, s);
  return astype(equal(add(rows, array(k), s), cols, s), dtype, s);
}

array identity(int n, Dtype dtype, S s) { return eye(n, n, 0, dtype, s); }

namespace {
array triangle_mask(const array& a, int k, bool lower, const char* op, S s) {
  if (a.ndim() < 2) throw std::invalid_argument(std::string("[") + op + "] Array must have at least 2 dimensions.");
  int n = a.shape(-2), m = a.shape(-1);
  array mask = lower ? tri(n, m, k, bool_, s) : logical_not(tri(n, m, k - 1, bool_, s), s);
  return where(mask, a, zeros({}, a.dtype(), s), s);
}
}  // namespace

array tril(const array& a, int k, S s) { return triangle_mask(a, k, true, "tril", s); }
array triu(const array& a, int k, S s) { return triangle_mask(a, k, false, "triu", s); }

std::vector<array> meshgrid(const std::vector<array>& arrays, bool sparse, const std::string& indexing, S s) {
  if (indexing != "xy" && indexing != "ij")
    throw std::invalid_argument("[meshgrid] indexing must be 'xy' or 'ij', got '" + indexing + "'.");
  int n = static_cast<int>(arrays.size());
  std::vector<array> flat;
  for (auto& a : arrays) flat.push_back(reshape(a, {static_cast<ShapeElem>(a.size())}, s));
  std::vector<array> out;
  Shape full_shape;
  for (int i = 0; i < n; ++i) full_shape.push_back(flat[i].shape(0));
  // 'xy' swaps the first two output axes (Cartesian indexing).
  if (indexing == "xy" && n > 1) std::swap(full_shape[0], full_shape[1]);
  for (int i = 0; i < n; ++i) {
    Shape sh(n, 1);
    int pos = i;
    if (indexing == "xy" && n > 1 && i < 2) pos = 1 - i;
    sh[pos] = flat[i].shape(0);
    array r = reshape(flat[i], sh, s);
    out.push_back(sparse ? r : broadcast_to(r, full_shape, s));
  }
  return out;
}

array copy(const array& a, S s) {
  return array(a.shape(), a.dtype(), std::make_shared<AsType>(to_stream(s)), {a});
}

array astype(const array& a, Dtype dtype, S s) {
  if (a.dtype() == dtype) return a;
  return array(a.shape(), dtype, std::make_shared<AsType>(to_stream(s)), {a});
}

array view(const array& a, Dtype dtype, S s) {
  if (a.dtype() == dtype) return a;
  Shape shape = a.shape();
  int ib = a.dtype().size(), ob = dtype.size();
  if (ib != ob) {
    if (shape.empty())
      throw std::invalid_argument("[view] Changing the type size of a scalar array is not allowed.");
    int64_t bytes = static_cast<int64_t>(shape.back()) * ib;
    if (bytes % ob != 0)
      throw std::invalid_argument("[view] Cannot view array of type " + dtype_name(a.dtype()) + " and last dimension " +
                                  std::to_string(shape.back()) + " as " + dtype_name(dtype) + ".");
    shape.back() = static_cast<ShapeElem>(bytes / ob);
  }
  return array(std::move(shape), dtype, std::make_shared<View>(to_stream(s)), {a});
}

array contiguous(const array& a, bool allow_col_major, S s) {
  return array(a.shape(), a.dtype(), std::make_shared<Contiguous>(to_stream(s), allow_col_major), {a});
}

array as_strided(const array& a, Shape shape, Strides strides, int64_t offset, S s) {
  if (shape.size() != strides.size())
    throw std::invalid_argument("[as_strided] Shape and strides must have the same length.");
  // Every reachable element must lie inside the (contiguous) input.
  int64_t lo = offset, hi = offset;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) throw std::invalid_argument("[as_strided] Negative dimensions are not allowed.");
    if (shape[i] == 0) { lo = hi = offset; break; }
    int64_t span = strides[i] * (shape[i] - 1);
    (span < 0 ? lo : hi) += span;
  }
  if (shape_size(shape) > 0 && (lo < 0 || hi >= static_cast<int64_t>(a.size())))
    throw std::invalid_argument("[as_strided] The strides and offset reach outside the input array.");
  return array(std::move(shape), a.dtype(), std::make_shared<AsStrided>(to_stream(s), std::move(strides), offset), {a});
}

}  // namespace lmx
