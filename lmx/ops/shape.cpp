// Shape ops: views where possible, assembly copies otherwise.
#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <stdexcept>

#include "lmx/ops/ops.h"
#include "lmx/transforms/compile.h"
#include "lmx/primitives/elementwise.h"
#include "lmx/primitives/shape.h"

namespace lmx {

Shape reshape_target(size_t size, Shape shape) {
  int infer = -1;
  size_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw std::invalid_argument("[reshape] Can only infer one dimension.");
      infer = static_cast<int>(i);
    } else if (shape[i] < 0) {
      throw std::invalid_argument("[reshape] Invalid dimension " + std::to_string(shape[i]) + ".");
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || size % known != 0)
      throw std::invalid_argument("[reshape] Cannot infer the shape of an empty array or a size that does not divide.");
    shape[infer] = static_cast<ShapeElem>(size / known);
    known = size;
  }
  if (known != size)
    throw std::invalid_argument("[reshape] Cannot reshape array of size " + std::to_string(size) + " into shape " +
                                shape_string(shape) + ".");
  return shape;
}

array reshape(const array& a, Shape shape, S s) {
  Shape target = reshape_target(a.size(), shape);
  // A shapeless trace keeps the requested shape (-1 included) to redo this
  // inference at each replay.
  if (detail::in_shapeless_trace())
    return array(std::move(target), a.dtype(), std::make_shared<Reshape>(to_stream(s), std::move(shape)), {a});
  if (target == a.shape()) return a;
  return array(std::move(target), a.dtype(), std::make_shared<Reshape>(to_stream(s)), {a});
}

array flatten(const array& a, int start_axis, int end_axis, S s) {
  if (a.ndim() == 0) return reshape(a, {1}, s);
  int st = normalize_axis(start_axis, a.ndim(), "flatten");
  int en = normalize_axis(end_axis, a.ndim(), "flatten");
  if (st > en) throw std::invalid_argument("[flatten] start_axis must not be after end_axis.");
  Shape shape(a.shape().begin(), a.shape().begin() + st);
  ShapeElem n = 1;
  for (int i = st; i <= en; ++i) n *= a.shape(i);
  shape.push_back(n);
  shape.insert(shape.end(), a.shape().begin() + en + 1, a.shape().end());
  return reshape(a, shape, s);
}

array unflatten(const array& a, int axis, Shape shape, S s) {
  int ax = normalize_axis(axis, a.ndim(), "unflatten");
  if (shape.empty()) throw std::invalid_argument("[unflatten] The shape must not be empty.");
  Shape out(a.shape().begin(), a.shape().begin() + ax);
  int infer = -1;
  ShapeElem known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw std::invalid_argument("[unflatten] Can only infer one dimension.");
      infer = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || a.shape(ax) % known != 0)
      throw std::invalid_argument("[unflatten] Cannot infer the unflattened dimension.");
    shape[infer] = a.shape(ax) / known;
  } else if (known != a.shape(ax)) {
    throw std::invalid_argument("[unflatten] Cannot unflatten axis " + std::to_string(axis) + " of size " +
                                std::to_string(a.shape(ax)) + " into shape " + shape_string(shape) + ".");
  }
  out.insert(out.end(), shape.begin(), shape.end());
  out.insert(out.end(), a.shape().begin() + ax + 1, a.shape().end());
  return reshape(a, out, s);
}

Shape squeezed_shape(const Shape& shape, const std::vector<int>& axes) {
  Shape out;
  size_t k = 0;
  for (int i = 0; i < static_cast<int>(shape.size()); ++i) {
    if (k < axes.size() && axes[k] == i) {
      if (shape[i] != 1)
        throw std::invalid_argument("[squeeze] Cannot squeeze axis " + std::to_string(i) + " with size " +
                                    std::to_string(shape[i]) + ", which is not 1.");
      ++k;
    } else {
      out.push_back(shape[i]);
    }
  }
  if (k != axes.size())
    throw std::invalid_argument("[squeeze] The axes must be distinct, increasing and within the " +
                                std::to_string(shape.size()) + " dimensions.");
  return out;
}

array squeeze(const array& a, const std::vector<int>& axes, S s) {
  auto ax = normalize_axes(axes, a.ndim(), "squeeze");
  Shape shape = squeezed_shape(a.shape(), ax);
  if (detail::in_shapeless_trace() && !ax.empty())
    return array(std::move(shape), a.dtype(), std::make_shared<Squeeze>(to_stream(s), ax), {a});
  return reshape(a, shape, s);
}

array squeeze(const array& a, S s) {
  std::vector<int> axes;
  for (int i = 0; i < a.ndim(); ++i)
    if (a.shape(i) == 1) axes.push_back(i);
  return squeeze(a, axes, s);
}

array expand_dims(const array& a, const std::vector<int>& axes, S s) {
  int nd = a.ndim() + static_cast<int>(axes.size());
  auto ax = normalize_axes(axes, nd, "expand_dims");
  Shape shape;
  for (int i = 0, j = 0, k = 0; i < nd; ++i) {
    if (j < static_cast<int>(ax.size()) && ax[j] == i) {
      shape.push_back(1);
      ++j;
    } else {
      shape.push_back(a.shape(k++));
    }
  }
  return reshape(a, shape, s);
}

array transpose(const array& a, std::vector<int> axes, S s) {
  if (static_cast<int>(axes.size()) != a.ndim())
    throw std::invalid_argument("[transpose] Received " + std::to_string(axes.size()) + " axes for array with " +
                                std::to_string(a.ndim()) + " dimensions.");
  for (auto& ax : axes) ax = normalize_axis(ax, a.ndim(), "transpose");
  std::vector<int> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    throw std::invalid_argument("[transpose] Repeated axes are not allowed.");
  Shape shape;
  for (int ax : axes) shape.push_back(a.shape(ax));
  return array(std::move(shape), a.dtype(), std::make_shared<Transpose>(to_stream(s), std::move(axes)), {a});
}

array transpose(const array& a, S s) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.rbegin(), axes.rend(), 0);
  return transpose(a, axes, s);
}

array swapaxes(const array& a, int axis1, int axis2, S s) {
  int x = normalize_axis(axis1, a.ndim(), "swapaxes"), y = normalize_axis(axis2, a.ndim(), "swapaxes");
  auto axes = all_axes(a.ndim());
  std::swap(axes[x], axes[y]);
  return transpose(a, axes, s);
}

array moveaxis(const array& a, int source, int destination, S s) {
  int src = normalize_axis(source, a.ndim(), "moveaxis"), dst = normalize_axis(destination, a.ndim(), "moveaxis");
  auto axes = all_axes(a.ndim());
  axes.erase(axes.begin() + src);
  axes.insert(axes.begin() + dst, src);
  return transpose(a, axes, s);
}

array broadcast_to(const array& a, const Shape& shape, S s) {
  if (a.shape() == shape) return a;
  Shape b = broadcast_shapes(a.shape(), shape, "broadcast_to");
  if (b != shape)
    throw std::invalid_argument("[broadcast_to] Cannot broadcast array of shape " + shape_string(a.shape()) +
                                " into shape " + shape_string(shape) + ".");
  return array(shape, a.dtype(), std::make_shared<Broadcast>(to_stream(s)), {a});
}

array broadcast_operand(const array& a, const Shape& shape, const std::vector<array>& operands, S s) {
  if (a.shape() == shape) return a;
  if (!detail::in_shapeless_trace()) return broadcast_to(a, shape, s);
  std::vector<array> inputs = {a};
  for (auto& o : operands)
    if (o.id() != a.id()) inputs.push_back(o);
  return array(shape, a.dtype(), std::make_shared<Broadcast>(to_stream(s)), std::move(inputs));
}

std::vector<array> broadcast_arrays(const std::vector<array>& arrays, S s) {
  Shape shape;
  for (auto& a : arrays) shape = broadcast_shapes(shape, a.shape(), "broadcast_arrays");
  std::vector<array> out;
  for (auto& a : arrays) out.push_back(broadcast_operand(a, shape, arrays, s));
  return out;
}

array concatenate(const std::vector<array>& arrays_in, std::optional<int> axis_opt, S s) {
  if (arrays_in.empty()) throw std::invalid_argument("[concatenate] No arrays provided for concatenation.");
  std::vector<array> arrays = arrays_in;
  if (!axis_opt) {
    for (auto& a : arrays) a = reshape(a, {static_cast<ShapeElem>(a.size())}, s);
    axis_opt = 0;
  }
  const array& first = arrays[0];
  if (first.ndim() == 0) throw std::invalid_argument("[concatenate] Zero-dimensional arrays cannot be concatenated.");
  int ax = normalize_axis(*axis_opt, first.ndim(), "concatenate");
  Shape shape = first.shape();
  shape[ax] = 0;
  Dtype t = result_type(arrays);
  for (auto& a : arrays) {
    if (a.ndim() != first.ndim())
      throw std::invalid_argument("[concatenate] All the input arrays must have the same number of dimensions.");
    for (int i = 0; i < a.ndim(); ++i)
      if (i != ax && a.shape(i) != first.shape(i))
        throw std::invalid_argument("[concatenate] All the input array dimensions must match exactly except for the "
                                    "concatenation axis; got shapes " + shape_string(first.shape()) + " and " +
                                    shape_string(a.shape()) + ".");
    shape[ax] += a.shape(ax);
    a = astype(a, t, s);
  }
  return array(std::move(shape), t, std::make_shared<Concatenate>(to_stream(s), ax), std::move(arrays));
}

array stack(const std::vector<array>& arrays, int axis, S s) {
  if (arrays.empty()) throw std::invalid_argument("[stack] No arrays provided for stacking.");
  int ax = normalize_axis(axis, arrays[0].ndim() + 1, "stack");
  std::vector<array> expanded;
  for (auto& a : arrays) {
    if (a.shape() != arrays[0].shape()) throw std::invalid_argument("[stack] All arrays must have the same shape.");
    expanded.push_back(expand_dims(a, {ax}, s));
  }
  return concatenate(expanded, ax, s);
}

std::vector<array> unstack(const array& a, int axis, S s) {
  if (a.ndim() == 0) throw std::invalid_argument("[unstack] Cannot unstack a scalar.");
  int ax = normalize_axis(axis, a.ndim(), "unstack");
  std::vector<array> out;
  for (auto& part : split(a, a.shape(ax), ax, s)) out.push_back(squeeze(part, {ax}, s));
  return out;
}

std::vector<array> split(const array& a, const Shape& indices, int axis, S s) {
  int ax = normalize_axis(axis, a.ndim(), "split");
  std::vector<array> out;
  ShapeElem n = a.shape(ax);
  ShapeElem prev = 0;
  Shape bounds = indices;
  bounds.push_back(n);
  // Part i is a[indices[i-1]:indices[i]] as in NumPy: empty where the
  // indices decrease.
  for (ShapeElem b : bounds) {
    b = std::clamp(b < 0 ? b + n : b, ShapeElem{0}, n);
    Shape start(a.ndim(), 0), stop = a.shape(), step(a.ndim(), 1);
    start[ax] = prev;
    stop[ax] = std::max(prev, b);
    out.push_back(slice(a, start, stop, step, s));
    prev = b;
  }
  return out;
}

std::vector<array> split(const array& a, int num_splits, int axis, S s) {
  int ax = normalize_axis(axis, a.ndim(), "split");
  if (num_splits <= 0 || a.shape(ax) % num_splits != 0)
    throw std::invalid_argument("[split] Array split does not result in sub arrays with equal size.");
  Shape indices;
  ShapeElem step = a.shape(ax) / num_splits;
  for (int i = 1; i < num_splits; ++i) indices.push_back(i * step);
  return split(a, indices, ax, s);
}

array repeat(const array& a, int repeats, std::optional<int> axis, S s) {
  if (repeats < 0) throw std::invalid_argument("[repeat] Number of repeats cannot be negative.");
  if (!axis) return repeat(reshape(a, {static_cast<ShapeElem>(a.size())}, s), repeats, 0, s);
  int ax = normalize_axis(*axis, a.ndim(), "repeat");
  // Insert a new axis after `ax`, broadcast it to `repeats`, and merge.
  array e = expand_dims(a, {ax + 1}, s);
  Shape b = e.shape();
  b[ax + 1] = repeats;
  Shape out = a.shape();
  out[ax] *= repeats;
  return reshape(contiguous(broadcast_to(e, b, s), false, s), out, s);
}

array tile(const array& a, std::vector<int> reps, S s) {
  int nd = std::max<int>(a.ndim(), static_cast<int>(reps.size()));
  Shape shape = a.shape();
  shape.insert(shape.begin(), nd - a.ndim(), 1);
  reps.insert(reps.begin(), nd - static_cast<int>(reps.size()), 1);
  // (r0, s0, r1, s1, ...) broadcast then merged pairwise.
  Shape expanded, bshape, out;
  for (int i = 0; i < nd; ++i) {
    if (reps[i] < 0) throw std::invalid_argument("[tile] Negative repetitions are not allowed.");
    expanded.push_back(1);
    expanded.push_back(shape[i]);
    bshape.push_back(reps[i]);
    bshape.push_back(shape[i]);
    out.push_back(reps[i] * shape[i]);
  }
  array e = reshape(a, expanded, s);
  return reshape(contiguous(broadcast_to(e, bshape, s), false, s), out, s);
}

namespace {
// a's slices along `axis` at the given indices, in order, assembled from
// runs of consecutive indices (each a strided slice) so no gather is needed.
array take_runs(const array& a, int axis, const std::vector<ShapeElem>& idx, S s) {
  std::vector<array> parts;
  size_t i = 0;
  while (i < idx.size()) {
    size_t j = i + 1;
    ShapeElem dir = j < idx.size() && std::abs(idx[j] - idx[i]) == 1 ? idx[j] - idx[i] : 1;
    while (j < idx.size() && idx[j] - idx[j - 1] == dir) ++j;
    Shape start(a.ndim(), 0), stop = a.shape(), step(a.ndim(), 1);
    start[axis] = idx[i];
    stop[axis] = idx[j - 1] + dir;  // -1 means "past the front" for a reversed run
    if (stop[axis] < 0) stop[axis] = -a.shape(axis) - 1;
    step[axis] = dir;
    parts.push_back(slice(a, start, stop, step, s));
    i = j;
  }
  return parts.size() == 1 ? parts[0] : concatenate(parts, axis, s);
}
}  // namespace

array pad(const array& a, const std::vector<std::pair<int, int>>& widths_in, const array& value,
          const std::string& mode, S s) {
  auto widths = widths_in;
  if (widths.size() == 1 && a.ndim() > 1) widths.assign(a.ndim(), widths[0]);
  if (static_cast<int>(widths.size()) != a.ndim())
    throw std::invalid_argument("[pad] Expected " + std::to_string(a.ndim()) + " pad widths, got " +
                                std::to_string(widths.size()) + ".");
  for (auto& [lo, hi] : widths)
    if (lo < 0 || hi < 0) throw std::invalid_argument("[pad] Pad widths must be non-negative.");
  if (mode == "constant") {
    Shape shape = a.shape(), low;
    for (int i = 0; i < a.ndim(); ++i) {
      shape[i] += widths[i].first + widths[i].second;
      low.push_back(widths[i].first);
    }
    if (value.size() != 1) throw std::invalid_argument("[pad] The pad value must be a scalar.");
    return array(std::move(shape), a.dtype(), std::make_shared<Pad>(to_stream(s), std::move(low)),
                 {a, astype(reshape(value, {}, s), a.dtype(), s)});
  }
  if (mode == "edge") {
    array out = a;
    for (int i = 0; i < a.ndim(); ++i) {
      auto [lo, hi] = widths[i];
      if (lo == 0 && hi == 0) continue;
      if (out.shape(i) == 0) throw std::invalid_argument("[pad] Cannot edge-pad an empty axis.");
      std::vector<array> parts;
      Shape start(out.ndim(), 0), stop = out.shape(), step(out.ndim(), 1);
      auto edge = [&](ShapeElem at, int count) {
        start[i] = at;
        stop[i] = at + 1;
        array e = slice(out, start, stop, step, s);
        Shape b = e.shape();
        b[i] = count;
        return broadcast_to(e, b, s);
      };
      if (lo) parts.push_back(edge(0, lo));
      parts.push_back(out);
      if (hi) parts.push_back(edge(out.shape(i) - 1, hi));
      out = concatenate(parts, i, s);
    }
    return out;
  }
  if (mode == "reflect" || mode == "symmetric") {
    // Mirror images repeat with period 2(n-1) (reflect: the edge is not
    // repeated) or 2n (symmetric), so wide pads wrap as in NumPy.
    bool reflect = mode == "reflect";
    array out = a;
    for (int i = 0; i < a.ndim(); ++i) {
      auto [lo, hi] = widths[i];
      if (lo == 0 && hi == 0) continue;
      ShapeElem n = a.shape(i);
      if (n == 0) throw std::invalid_argument("[pad] Cannot " + mode + "-pad an empty axis.");
      int64_t period = reflect ? 2 * (n - 1) : 2 * n;
      std::vector<ShapeElem> source;
      for (int64_t j = -lo; j < n + hi; ++j) {
        if (period == 0) {  // reflecting a single element repeats it
          source.push_back(0);
          continue;
        }
        int64_t t = ((j % period) + period) % period;
        source.push_back(static_cast<ShapeElem>(t < n ? t : period - t - (reflect ? 0 : 1)));
      }
      out = take_runs(out, i, source, s);
    }
    return out;
  }
  throw std::invalid_argument("[pad] Invalid padding mode '" + mode +
                              "': expected 'constant', 'edge', 'reflect' or 'symmetric'.");
}

array flip(const array& a, const std::vector<int>& axes_in, S s) {
  auto axes = axes_in.empty() ? all_axes(a.ndim()) : normalize_axes(axes_in, a.ndim(), "flip");
  Shape start(a.ndim(), 0), stop = a.shape(), step(a.ndim(), 1);
  for (int ax : axes) {
    start[ax] = a.shape(ax) - 1;
    stop[ax] = -a.shape(ax) - 1;  // past the front, in slice() terms
    step[ax] = -1;
  }
  return slice(a, start, stop, step, s);
}

array roll(const array& a, const Shape& shift, const std::vector<int>& axes, S s) {
  if (axes.empty()) {
    if (shift.size() != 1) throw std::invalid_argument("[roll] Without axes, shift must be a single integer.");
    return reshape(roll(flatten(a, 0, -1, s), shift, {0}, s), a.shape(), s);
  }
  if (shift.size() != axes.size() && shift.size() != 1)
    throw std::invalid_argument("[roll] shift and axis must have the same number of elements.");
  array out = a;
  for (size_t i = 0; i < axes.size(); ++i) {
    int ax = normalize_axis(axes[i], a.ndim(), "roll");
    ShapeElem n = a.shape(ax);
    if (n == 0) continue;
    ShapeElem k = (shift.size() == 1 ? shift[0] : shift[i]) % n;
    if (k < 0) k += n;
    if (k == 0) continue;
    auto parts = split(out, Shape{n - k}, ax, s);
    out = concatenate({parts[1], parts[0]}, ax, s);
  }
  return out;
}

array roll(const array& a, int shift, S s) { return roll(a, Shape{shift}, {}, s); }

array atleast_1d(const array& a, S s) { return a.ndim() >= 1 ? a : reshape(a, {1}, s); }
array atleast_2d(const array& a, S s) {
  if (a.ndim() >= 2) return a;
  return reshape(a, a.ndim() == 0 ? Shape{1, 1} : Shape{1, a.shape(0)}, s);
}
array atleast_3d(const array& a, S s) {
  switch (a.ndim()) {
    case 0: return reshape(a, {1, 1, 1}, s);
    case 1: return reshape(a, {1, a.shape(0), 1}, s);
    case 2: return reshape(a, {a.shape(0), a.shape(1), 1}, s);
    default: return a;
  }
}

array diagonal(const array& a, int offset, int axis1, int axis2, S s) {
  if (a.ndim() < 2) throw std::invalid_argument("[diagonal] Array must have at least two dimensions.");
  int x = normalize_axis(axis1, a.ndim(), "diagonal"), y = normalize_axis(axis2, a.ndim(), "diagonal");
  if (x == y) throw std::invalid_argument("[diagonal] axis1 and axis2 cannot be the same axis.");
  // Move the two axes last, then walk the diagonal of a contiguous copy.
  std::vector<int> perm;
  for (int i = 0; i < a.ndim(); ++i)
    if (i != x && i != y) perm.push_back(i);
  perm.push_back(x);
  perm.push_back(y);
  array t = contiguous(transpose(a, perm, s), false, s);
  ShapeElem n = t.shape(-2), m = t.shape(-1);
  ShapeElem len = offset >= 0 ? std::max(0, std::min(n, m - offset)) : std::max(0, std::min(n + offset, m));
  Shape shape(t.shape().begin(), t.shape().end() - 2);
  shape.push_back(len);
  Strides rs = row_major_strides(t.shape());
  Strides strides(rs.begin(), rs.end() - 2);
  strides.push_back(rs[rs.size() - 2] + 1);
  int64_t start = len == 0 ? 0 : (offset >= 0 ? offset : static_cast<int64_t>(-offset) * m);
  return as_strided(t, shape, strides, start, s);
}

array diag(const array& a, int k, S s) {
  if (a.ndim() == 1) {
    // out[i, j] = a[i] (k >= 0) or a[j] (k < 0) where j - i == k, else 0.
    ShapeElem n = a.shape(0) + std::abs(k);
    array rows = reshape(arange(0, n, 1, int32, s), {n, 1}, s);
    array cols = reshape(arange(0, n, 1, int32, s), {1, n}, s);
    array mask = equal(subtract(cols, rows, s), array(k), s);
    array vals = pad(a, {{0, std::abs(k)}}, array(0), "constant", s);
    array grid = broadcast_to(reshape(vals, k >= 0 ? Shape{n, 1} : Shape{1, n}, s), {n, n}, s);
    return where(mask, grid, zeros({}, a.dtype(), s), s);
  }
  if (a.ndim() == 2) return diagonal(a, k, 0, 1, s);
  throw std::invalid_argument("[diag] Input must be 1-dimensional or 2-dimensional.");
}

array trace(const array& a, int offset, int axis1, int axis2, std::optional<Dtype> dtype, S s) {
  array d = diagonal(a, offset, axis1, axis2, s);
  array r = sum(d, {-1}, false, s);
  return dtype ? astype(r, *dtype, s) : r;
}

array slice(const array& a, Shape start, Shape stop, Shape strides, S s) {
  if (static_cast<int>(start.size()) != a.ndim() || stop.size() != start.size() || strides.size() != start.size())
    throw std::invalid_argument("[slice] Invalid number of indices or strides for array with " +
                                std::to_string(a.ndim()) + " dimensions.");
  Shape shape(a.ndim());
  bool identity = true;
  for (int i = 0; i < a.ndim(); ++i) {
    if (strides[i] == 0) throw std::invalid_argument("[slice] Slice step cannot be zero.");
    ShapeElem n = a.shape(i);
    ShapeElem st = start[i], sp = stop[i], step = strides[i];
    // Python semantics: negative bounds count from the end, then clamp.
    if (step > 0) {
      st = st < 0 ? std::max(st + n, 0) : std::min(st, n);
      sp = sp < 0 ? std::max(sp + n, 0) : std::min(sp, n);
      shape[i] = sp > st ? (sp - st + step - 1) / step : 0;
    } else {
      st = st < 0 ? std::max(st + n, -1) : std::min(st, n - 1);
      sp = sp < 0 ? std::max(sp + n, -1) : std::min(sp, n - 1);
      shape[i] = st > sp ? (st - sp - step - 1) / (-step) : 0;
    }
    start[i] = st;
    identity &= st == 0 && step == 1 && shape[i] == n;
  }
  if (identity) return a;
  return array(std::move(shape), a.dtype(), std::make_shared<Slice>(to_stream(s), std::move(start), std::move(strides)),
               {a});
}

array slice_update(const array& src, const array& update, Shape start, Shape stop, Shape strides, S s) {
  // The window's shape comes from the same normalisation as slice().
  array window = slice(src, start, stop, strides, s);
  Shape norm_start = start;
  for (int i = 0; i < src.ndim(); ++i) {
    ShapeElem n = src.shape(i), st = start[i];
    norm_start[i] = strides[i] > 0 ? (st < 0 ? std::max(st + n, 0) : std::min(st, n))
                                   : (st < 0 ? std::max(st + n, -1) : std::min(st, n - 1));
  }
  if (update.ndim() > window.ndim()) {
    // Leading size-1 dimensions of the update may be dropped, as NumPy.
    int extra = update.ndim() - window.ndim();
    for (int i = 0; i < extra; ++i)
      if (update.shape(i) != 1)
        throw std::invalid_argument("[slice_update] Update of shape " + shape_string(update.shape()) +
                                    " does not fit a window of shape " + shape_string(window.shape()) + ".");
  }
  array upd = update.ndim() > window.ndim()
                  ? reshape(update, Shape(update.shape().end() - window.ndim(), update.shape().end()), s)
                  : update;
  upd = broadcast_to(astype(upd, src.dtype(), s), window.shape(), s);
  return array(src.shape(), src.dtype(), std::make_shared<SliceUpdate>(to_stream(s), norm_start, std::move(strides)),
               {src, upd});
}

}  // namespace lmx
