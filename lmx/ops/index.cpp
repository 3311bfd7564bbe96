// Indexing with integer arrays: gather/scatter over several axes, and the
// take / take_along_axis / put_along_axis forms built on them.
#include <numeric>
#include <stdexcept>

#include "lmx/ops/ops.h"
#include "lmx/primitives/index.h"

namespace lmx {

namespace {

std::vector<array> checked_indices(const std::vector<array>& indices, const char* op, S s) {
  for (auto& i : indices)
    if (!is_integral(i.dtype()) || i.dtype() == bool_)
      throw std::invalid_argument(std::string("[") + op + "] Indices must be integers, got " + dtype_name(i.dtype()) +
                                  ".");
  return broadcast_arrays(indices, s);
}

// The shape Gather gives: the indices' shape, then a's other axes in order.
Shape gathered_shape(const array& a, const std::vector<int>& axes, const Shape& idx_shape) {
  std::vector<bool> used(a.ndim(), false);
  for (int ax : axes) used[ax] = true;
  Shape out = idx_shape;
  for (int d = 0; d < a.ndim(); ++d)
    if (!used[d]) out.push_back(a.shape(d));
  return out;
}

std::vector<int> unique_axes(const std::vector<int>& axes, int ndim, const char* op) {
  std::vector<int> out;
  std::vector<bool> seen(ndim, false);
  for (int ax : axes) {
    int n = normalize_axis(ax, ndim, op);
    if (seen[n]) throw std::invalid_argument(std::string("[") + op + "] An axis is indexed twice.");
    seen[n] = true;
    out.push_back(n);
  }
  return out;
}

// Index arrays addressing every axis of an array of `shape`, with `idx` on
// `axis` and the positions themselves (broadcast iotas) on the others.
std::vector<array> along_axis_indices(const Shape& shape, const array& idx, int axis, S s) {
  std::vector<array> out;
  for (int d = 0; d < static_cast<int>(shape.size()); ++d) {
    if (d == axis) {
      out.push_back(idx);
      continue;
    }
    Shape r(shape.size(), 1);
    r[d] = idx.shape(d);
    out.push_back(reshape(arange(0, idx.shape(d), 1, int32, s), r, s));
  }
  return out;
}

}  // namespace

array gather(const array& a, const std::vector<array>& indices, const std::vector<int>& axes_in, S s) {
  if (indices.size() != axes_in.size())
    throw std::invalid_argument("[gather] Need one axis per index array.");
  if (indices.empty()) return a;
  auto axes = unique_axes(axes_in, a.ndim(), "gather");
  auto idx = checked_indices(indices, "gather", s);
  for (int ax : axes)
    if (a.shape(ax) == 0 && idx[0].size() > 0)
      throw std::invalid_argument("[gather] Cannot take elements from axis " + std::to_string(ax) + " of size 0.");
  std::vector<array> inputs = {a};
  inputs.insert(inputs.end(), idx.begin(), idx.end());
  return array(gathered_shape(a, axes, idx[0].shape()), a.dtype(), std::make_shared<Gather>(to_stream(s), axes),
               std::move(inputs));
}

array scatter(const array& a, const std::vector<array>& indices, const array& updates,
              const std::vector<int>& axes_in, ScatterMode mode, S s) {
  if (indices.size() != axes_in.size())
    throw std::invalid_argument("[scatter] Need one axis per index array.");
  auto axes = unique_axes(axes_in, a.ndim(), "scatter");
  auto idx = checked_indices(indices, "scatter", s);
  Shape block = gathered_shape(a, axes, idx.empty() ? Shape{} : idx[0].shape());
  // Updates broadcast to the gathered shape (extra leading 1s may drop).
  array u = updates;
  while (u.ndim() > static_cast<int>(block.size()) && u.shape(0) == 1) u = squeeze(u, {0}, s);
  Shape ub;
  try {
    ub = broadcast_shapes(u.shape(), block, "scatter");
  } catch (const std::invalid_argument&) {
    ub = {};
  }
  if (ub != block)
    throw std::invalid_argument("[scatter] Updates of shape " + shape_string(updates.shape()) +
                                " cannot be broadcast to the indexed shape " + shape_string(block) + ".");
  u = broadcast_to(astype(u, a.dtype(), s), block, s);
  std::vector<array> inputs = {a, u};
  inputs.insert(inputs.end(), idx.begin(), idx.end());
  return array(a.shape(), a.dtype(), std::make_shared<Scatter>(to_stream(s), axes, mode), std::move(inputs));
}

array take(const array& a, const array& indices, std::optional<int> axis, S s) {
  if (!axis) return take(reshape(a, {static_cast<ShapeElem>(a.size())}, s), indices, 0, s);
  int ax = normalize_axis(*axis, a.ndim(), "take");
  array g = gather(a, {indices}, {ax}, s);
  // Gather puts the index dims first; move them to where `ax` was.
  int ni = indices.ndim();
  std::vector<int> perm;
  for (int d = 0; d < ax; ++d) perm.push_back(ni + d);
  for (int d = 0; d < ni; ++d) perm.push_back(d);
  for (int d = ni + ax; d < g.ndim(); ++d) perm.push_back(d);
  return transpose(g, perm, s);
}

array take_along_axis(const array& a, const array& indices, std::optional<int> axis, S s) {
  if (!axis && indices.ndim() != 1)
    throw std::invalid_argument("[take_along_axis] Without an axis the indices must be 1-dimensional.");
  if (!axis) return take_along_axis(reshape(a, {static_cast<ShapeElem>(a.size())}, s),
                                    reshape(indices, {static_cast<ShapeElem>(indices.size())}, s), 0, s);
  int ax = normalize_axis(*axis, a.ndim(), "take_along_axis");
  if (indices.ndim() != a.ndim())
    throw std::invalid_argument("[take_along_axis] Indices of dimension " + std::to_string(indices.ndim()) +
                                " do not match array of dimension " + std::to_string(a.ndim()) + ".");
  // The other axes broadcast between a and indices.
  Shape bshape = a.shape(), ishape = indices.shape();
  bshape[ax] = 1, ishape[ax] = 1;
  Shape common = broadcast_shapes(bshape, ishape, "take_along_axis");
  Shape ia = common, ii = common;
  ia[ax] = a.shape(ax), ii[ax] = indices.shape(ax);
  array src = broadcast_to(a, ia, s);
  array idx = broadcast_to(indices, ii, s);
  return gather(src, along_axis_indices(ii, idx, ax, s), all_axes(a.ndim()), s);
}

array put_along_axis(const array& a, const array& indices, const array& values, std::optional<int> axis, S s) {
  return scatter_along_axis(a, indices, values, axis, ScatterMode::Replace, s);
}

array scatter_along_axis(const array& a, const array& indices, const array& values, std::optional<int> axis,
                         ScatterMode mode, S s) {
  if (!axis) {
    array flat = reshape(a, {static_cast<ShapeElem>(a.size())}, s);
    array out = scatter_along_axis(flat, reshape(indices, {static_cast<ShapeElem>(indices.size())}, s),
                                   reshape(values, {static_cast<ShapeElem>(values.size())}, s), 0, mode, s);
    return reshape(out, a.shape(), s);
  }
  int ax = normalize_axis(*axis, a.ndim(), "put_along_axis");
  if (indices.ndim() != a.ndim())
    throw std::invalid_argument("[put_along_axis] Indices of dimension " + std::to_string(indices.ndim()) +
                                " do not match array of dimension " + std::to_string(a.ndim()) + ".");
  Shape ishape = indices.shape();
  for (int d = 0; d < a.ndim(); ++d)
    if (d != ax && ishape[d] != a.shape(d) && ishape[d] != 1)
      throw std::invalid_argument("[put_along_axis] Indices of shape " + shape_string(indices.shape()) +
                                  " do not broadcast to the array's shape " + shape_string(a.shape()) + ".");
  Shape ii = a.shape();
  ii[ax] = indices.shape(ax);
  array idx = broadcast_to(indices, ii, s);
  return scatter(a, along_axis_indices(ii, idx, ax, s), values, all_axes(a.ndim()), mode, s);
}

}  // namespace lmx
