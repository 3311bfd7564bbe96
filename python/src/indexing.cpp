#include "indexing.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "lmx/primitives/index.h"

namespace lmx::py {

namespace {

bool is_none(nb::handle h) { return h.is_none(); }
bool is_ellipsis(nb::handle h) { return h.ptr() == Py_Ellipsis; }
// Python ints and other integer scalars (np.int64, 0-d integer NumPy arrays)
// that implement __index__; lmx arrays and bools are not scalar indices.
bool is_int_index(nb::handle h) {
  if (PyBool_Check(h.ptr()) || is_array(h)) return false;
  if (PyLong_Check(h.ptr())) return true;
  if (!PyIndex_Check(h.ptr())) return false;
  nb::object as_int = nb::steal(PyNumber_Index(h.ptr()));
  if (!as_int.is_valid()) PyErr_Clear();
  return as_int.is_valid();
}
// Integer arrays used as indices: lmx arrays and (nested) lists. As in MLX,
// NumPy arrays with dimensions are not index objects (NumPy scalars and 0-d
// arrays are ints).
bool is_array_index(nb::handle h) { return is_array(h) || PyList_Check(h.ptr()); }
// NumPy boolean arrays are accepted as masks (for writes).
bool is_numpy_mask(nb::handle h) {
  if (is_array(h) || !nb::hasattr(h, "__array__") || !nb::hasattr(h, "dtype")) return false;
  nb::object name = nb::steal(PyObject_Str(h.attr("dtype").ptr()));
  return name.is_valid() && nb::cast<std::string>(name) == "bool";
}

long long as_long(nb::handle h) {
  nb::object as_int = nb::steal(PyNumber_Index(h.ptr()));
  long long i = PyLong_AsLongLong(as_int.ptr());
  if (PyErr_Occurred()) {
    PyErr_Clear();
    throw std::out_of_range("[index] Index out of range.");
  }
  return i;
}

// One index item per result-forming position, after expanding the ellipsis.
struct Item {
  enum Kind { Int, Slice, NewAxis, Array } kind;
  nb::handle h;
  array arr;  // Array items
};

// Splits an index into items; checks the count against ndim.
std::vector<Item> parse_items(const array& a, nb::handle index) {
  std::vector<nb::handle> raw;
  if (PyTuple_Check(index.ptr())) {
    for (nb::handle h : nb::borrow<nb::tuple>(index)) raw.push_back(h);
  } else {
    raw.push_back(index);
  }
  int consumed = 0, ellipses = 0;
  for (auto h : raw) {
    if (is_ellipsis(h)) {
      if (++ellipses > 1) throw std::invalid_argument("[index] An index can only have a single ellipsis ('...').");
    } else if (!is_none(h)) {
      if (!is_int_index(h) && !PySlice_Check(h.ptr()) && !is_array_index(h) && !PyBool_Check(h.ptr()) &&
          !is_numpy_mask(h))
        throw std::invalid_argument("[index] Cannot index an array with an object of type " +
                                    std::string(nb::type_name(h.type()).c_str()) +
                                    ": use integers, slices, ellipsis, None or integer arrays.");
      ++consumed;
    }
  }
  if (consumed > a.ndim())
    throw std::invalid_argument("[index] Too many indices for array with " + std::to_string(a.ndim()) +
                                " dimensions.");
  std::vector<Item> items;
  for (auto h : raw) {
    if (is_ellipsis(h)) {
      for (int i = 0; i < a.ndim() - consumed; ++i) items.push_back({Item::Slice, nb::none(), {}});
      consumed = a.ndim();
    } else if (is_none(h)) {
      items.push_back({Item::NewAxis, h, {}});
    } else if (is_int_index(h)) {
      items.push_back({Item::Int, h, {}});
    } else if (PyBool_Check(h.ptr())) {
      items.push_back({Item::Array, h, array(h.ptr() == Py_True)});
    } else if (is_numpy_mask(h)) {
      items.push_back({Item::Array, h, to_array(h)});
    } else if (PySlice_Check(h.ptr())) {
      items.push_back({Item::Slice, h, {}});
    } else {
      if (PyList_Check(h.ptr()) && PyList_Size(h.ptr()) == 0)
        throw std::invalid_argument("[index] An empty list is not an index (it would make a float array).");
      array arr = to_array(h);
      if (!is_integral(arr.dtype()))
        throw std::invalid_argument("[index] Arrays used as indices must be integers, got " +
                                    dtype_name(arr.dtype()) + ".");
      items.push_back({Item::Array, h, arr});
    }
  }
  while (consumed < a.ndim()) items.push_back({Item::Slice, nb::none(), {}}), ++consumed;
  return items;
}

// The basic part of an index: one window per input axis, and the view's
// shape with one dim per item (ints keep a size-1 dim here; None adds one).
struct Plan {
  Shape start, stop, step, window_shape;
  Shape view_shape;              // one entry per item
  std::vector<int> array_dims;   // view dims addressed by index arrays
  std::vector<array> arrays;
  std::vector<int> drop_dims;    // view dims of plain ints (dropped)
};

// ints_advanced: with index arrays present, ints index like 0-d arrays (as
// NumPy and MLX's reads do). MLX's writes instead drop an int's axis first,
// so a[1, :, idx] = v takes v laid out as a[1][:, idx].
Plan plan_index(const array& a, const std::vector<Item>& items, bool ints_advanced) {
  bool advanced = false;
  for (auto& it : items) advanced |= it.kind == Item::Array;
  advanced &= ints_advanced;
  Plan p;
  int axis = 0;
  for (size_t k = 0; k < items.size(); ++k) {
    const Item& it = items[k];
    int vdim = static_cast<int>(p.view_shape.size());
    if (it.kind == Item::NewAxis) {
      p.view_shape.push_back(1);
      continue;
    }
    ShapeElem n = a.shape(axis);
    if (it.kind == Item::Int) {
      long long i = as_long(it.h);
      if (i < -n || i >= n)
        throw std::out_of_range("[index] Index " + std::to_string(i) + " is out of bounds for axis " +
                                std::to_string(axis) + " with size " + std::to_string(n) + ".");
      if (i < 0) i += n;
      p.start.push_back(static_cast<ShapeElem>(i)), p.stop.push_back(static_cast<ShapeElem>(i + 1));
      p.step.push_back(1), p.window_shape.push_back(1), p.view_shape.push_back(1);
      // With index arrays present an int is one more (0-d) advanced index, as in NumPy.
      if (advanced) {
        p.array_dims.push_back(vdim);
        p.arrays.push_back(array(0));
      } else {
        p.drop_dims.push_back(vdim);
      }
    } else if (it.kind == Item::Array) {
      p.start.push_back(0), p.stop.push_back(n), p.step.push_back(1);
      p.window_shape.push_back(n), p.view_shape.push_back(n);
      p.array_dims.push_back(vdim);
      p.arrays.push_back(it.arr);
    } else if (it.h.is_none()) {
      p.start.push_back(0), p.stop.push_back(n), p.step.push_back(1);
      p.window_shape.push_back(n), p.view_shape.push_back(n);
    } else {
      Py_ssize_t st, sp, step;
      if (PySlice_Unpack(it.h.ptr(), &st, &sp, &step) < 0) throw nb::python_error();
      Py_ssize_t len = PySlice_AdjustIndices(n, &st, &sp, step);
      // Past-the-front stops of negative steps are spelled -(n+1) for slice().
      if (len == 0) st = sp = 0, step = 1;
      if (step < 0 && sp < 0) sp = -static_cast<Py_ssize_t>(n) - 1;
      p.start.push_back(static_cast<ShapeElem>(st)), p.stop.push_back(static_cast<ShapeElem>(sp));
      p.step.push_back(static_cast<ShapeElem>(step));
      p.window_shape.push_back(static_cast<ShapeElem>(len)), p.view_shape.push_back(static_cast<ShapeElem>(len));
    }
    ++axis;
  }
  return p;
}

// Where the gathered (broadcast index) dims land, as in NumPy: in place of
// the index arrays when they are adjacent, else in front. Returns the
// permutation from Gather's order (index dims, then the other view dims).
std::vector<int> result_perm(const Plan& p, int index_ndim) {
  int others = static_cast<int>(p.view_shape.size() - p.array_dims.size());
  bool adjacent = true;
  for (size_t i = 1; i < p.array_dims.size(); ++i) adjacent &= p.array_dims[i] == p.array_dims[i - 1] + 1;
  int before = 0;
  if (adjacent)
    for (int d = 0; d < p.array_dims[0]; ++d) ++before;  // view dims before the first index array
  std::vector<int> perm;
  for (int d = 0; d < before; ++d) perm.push_back(index_ndim + d);
  for (int d = 0; d < index_ndim; ++d) perm.push_back(d);
  for (int d = before; d < others; ++d) perm.push_back(index_ndim + d);
  return perm;
}

std::vector<int> inverse(const std::vector<int>& perm) {
  std::vector<int> inv(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inv[perm[i]] = static_cast<int>(i);
  return inv;
}

Shape drop(const Shape& shape, const std::vector<int>& dims) {
  Shape out;
  for (int d = 0; d < static_cast<int>(shape.size()); ++d)
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) out.push_back(shape[d]);
  return out;
}

int broadcast_ndim(const std::vector<array>& arrays) {
  Shape s;
  for (auto& x : arrays) s = broadcast_shapes(s, x.shape(), "index");
  return static_cast<int>(s.size());
}

}  // namespace

bool has_mask(const std::vector<Item>& items) {
  for (auto& it : items)
    if (it.kind == Item::Array && it.arr.dtype() == bool_) return true;
  return false;
}

// a[mask] = v, the only form of boolean indexing MLX has: the mask covers
// a's leading dims; v broadcasts to each selected element, or, with one more
// dim than that, is read row by row in order.
array mask_write(const array& a, const std::vector<Item>& items, array v, ScatterMode mode) {
  for (size_t k = 1; k < items.size(); ++k)
    if (items[k].kind != Item::Slice || !items[k].h.is_none())
      throw std::invalid_argument("[index] A boolean mask cannot be combined with other indices.");
  if (mode != ScatterMode::Replace) throw std::invalid_argument("[index] .at[] does not take a boolean mask.");
  const array& m = items[0].arr;
  if (m.ndim() > a.ndim() || !std::equal(m.shape().begin(), m.shape().end(), a.shape().begin()))
    throw std::invalid_argument("[index] A boolean mask of shape " + shape_string(m.shape()) +
                                " does not match the leading dimensions of an array of shape " +
                                shape_string(a.shape()) + ".");
  Shape tail(a.shape().begin() + m.ndim(), a.shape().end());
  Shape m_expanded = m.shape();
  m_expanded.insert(m_expanded.end(), tail.size(), 1);
  array mask = reshape(m, m_expanded);
  v = astype(v, a.dtype());
  if (v.ndim() <= static_cast<int>(tail.size())) {
    if (broadcast_shapes(v.shape(), tail, "index") != tail)
      throw std::invalid_argument("[index] Cannot assign an array of shape " + shape_string(v.shape()) +
                                  " to masked elements of shape " + shape_string(tail) + ".");
    return where(mask, broadcast_to(v, a.shape()), a);
  }
  if (v.ndim() != static_cast<int>(tail.size()) + 1)
    throw std::invalid_argument("[index] Cannot assign an array of shape " + shape_string(v.shape()) +
                                " to masked elements of shape " + shape_string(tail) + ".");
  Shape row(v.shape().begin() + 1, v.shape().end());
  if (broadcast_shapes(row, tail, "index") != tail)
    throw std::invalid_argument("[index] Rows of shape " + shape_string(row) +
                                " cannot fill masked elements of shape " + shape_string(tail) + ".");
  if (v.shape(0) == 0) {
    array sel = any(m, {});
    sel.eval();
    if (sel.item<bool>())
      throw std::invalid_argument("[index] The value has no rows for the selected elements.");
    return a;
  }
  // The k-th selected position reads row k (unselected ones read row 0).
  array flat = reshape(m, {static_cast<ShapeElem>(m.size())});
  array pos = subtract(cumsum(flat, 0, false, true, int32), array(1));
  pos = reshape(where(flat, pos, array(0)), m.shape());
  array rows = take(v, pos, 0);  // m.shape + row
  Shape target = a.shape();
  return where(mask, broadcast_to(rows, target), a);
}

array get_item(const array& a, nb::handle index) {
  auto items = parse_items(a, index);
  if (has_mask(items))
    throw std::invalid_argument("[index] Boolean masks are not supported for reads (as in MLX); use where().");
  Plan p = plan_index(a, items, true);
  array view = reshape(slice(a, p.start, p.stop, p.step), p.view_shape);
  if (p.arrays.empty()) return reshape(view, drop(p.view_shape, p.drop_dims));
  array g = gather(view, p.arrays, p.array_dims);
  return transpose(g, result_perm(p, broadcast_ndim(p.arrays)));
}

array update_item(const array& a, nb::handle index, nb::handle value, ScatterMode mode) {
  if (PyList_Check(value.ptr()) || PyTuple_Check(value.ptr()))
    throw std::invalid_argument("[index] Assigned values must be arrays or scalars, not Python sequences.");
  auto items = parse_items(a, index);
  array v = to_array_like(value, a.dtype());
  if (has_mask(items)) {
    if (items[0].kind != Item::Array || items[0].arr.dtype() != bool_)
      throw std::invalid_argument("[index] A boolean mask cannot be combined with other indices.");
    return mask_write(a, items, v, mode);
  }
  Plan p = plan_index(a, items, false);
  // Writes drop the axes of plain ints before the index arrays apply.
  if (!p.drop_dims.empty() && !p.arrays.empty()) {
    for (auto& d : p.array_dims) {
      int shift = 0;
      for (int dd : p.drop_dims) shift += dd < d;
      d -= shift;
    }
    p.view_shape = drop(p.view_shape, p.drop_dims);
    p.drop_dims.clear();
  }
  if (p.arrays.empty()) {
    if (mode != ScatterMode::Replace) {
      // x.at[window].op(v): apply the op to the window, then write it back.
      array cur = reshape(slice(a, p.start, p.stop, p.step), drop(p.view_shape, p.drop_dims));
      switch (mode) {
        case ScatterMode::Add: v = add(cur, v); break;
        case ScatterMode::Prod: v = multiply(cur, v); break;
        case ScatterMode::Max: v = maximum(cur, v); break;
        case ScatterMode::Min: v = minimum(cur, v); break;
        default: break;
      }
    }
    Shape target = drop(p.view_shape, p.drop_dims);
    // Leading size-1 dims of the value beyond the target's rank may drop.
    while (v.ndim() > static_cast<int>(target.size()) && v.shape(0) == 1) v = squeeze(v, {0});
    if (v.ndim() > static_cast<int>(target.size()) || broadcast_shapes(v.shape(), target, "index") != target)
      throw std::invalid_argument("[index] Cannot assign an array of shape " + shape_string(v.shape()) +
                                  " to an indexed window of shape " + shape_string(target) + ".");
    v = reshape(broadcast_to(astype(v, a.dtype()), target), p.window_shape);
    return slice_update(a, v, p.start, p.stop, p.step);
  }
  array view = reshape(slice(a, p.start, p.stop, p.step), p.view_shape);
  int ni = broadcast_ndim(p.arrays);
  auto perm = result_perm(p, ni);
  // The value lines up with get_item's result; Scatter wants Gather's order.
  Shape result_shape;
  {
    Shape idx_shape;
    for (auto& x : p.arrays) idx_shape = broadcast_shapes(idx_shape, x.shape(), "index");
    Shape gathered = idx_shape;
    for (int d = 0; d < static_cast<int>(p.view_shape.size()); ++d)
      if (std::find(p.array_dims.begin(), p.array_dims.end(), d) == p.array_dims.end())
        gathered.push_back(p.view_shape[d]);
    for (int d : perm) result_shape.push_back(gathered[d]);
  }
  while (v.ndim() > static_cast<int>(result_shape.size()) && v.shape(0) == 1) v = squeeze(v, {0});
  if (v.ndim() > static_cast<int>(result_shape.size()) ||
      broadcast_shapes(v.shape(), result_shape, "index") != result_shape)
    throw std::invalid_argument("[index] Cannot assign an array of shape " + shape_string(v.shape()) +
                                " to an indexed result of shape " + shape_string(result_shape) + ".");
  array updates = transpose(broadcast_to(v, result_shape), inverse(perm));
  array scattered = scatter(view, p.arrays, updates, p.array_dims, mode);
  return slice_update(a, reshape(scattered, p.window_shape), p.start, p.stop, p.step);
}

array set_item(const array& a, nb::handle index, nb::handle value) {
  return update_item(a, index, value, ScatterMode::Replace);
}

using namespace nb::literals;

namespace {

// take's index: an int or an integer array (as MLX: no lists or floats).
array take_index(nb::handle h) {
  if (is_array(h)) return nb::cast<array>(h);
  if (PyLong_Check(h.ptr())) return array(static_cast<int64_t>(as_long(h)), int32);
  throw nb::type_error("[take] indices must be an array or an int.");
}

// Starts of a dynamic slice: an integer array with one entry per axis.
array slice_starts(const array& start, size_t naxes, const char* op) {
  if (!is_integral(start.dtype()) || start.dtype() == bool_)
    throw std::invalid_argument(std::string("[") + op + "] start_indices must be integers.");
  array st = reshape(start, {static_cast<ShapeElem>(start.size())});
  if (static_cast<size_t>(st.size()) != naxes)
    throw std::invalid_argument(std::string("[") + op + "] Got " + std::to_string(st.size()) +
                                " start indices for " + std::to_string(naxes) + " axes.");
  return st;
}

std::vector<int> slice_axes(const array& a, const std::vector<int>& axes, const char* op) {
  std::vector<int> out;
  for (int ax : axes) out.push_back(normalize_axis(ax, a.ndim(), op));
  return out;
}

// Index arrays start[k] + arange(sizes[k]) laid out as an open grid over
// the k axes, for Gather/Scatter.
std::vector<array> window_indices(const array& starts, const std::vector<ShapeElem>& sizes) {
  std::vector<array> idx;
  for (size_t k = 0; k < sizes.size(); ++k) {
    Shape r(sizes.size(), 1);
    r[k] = sizes[k];
    // A slice (a view), not a take: no kernel, and equal windows of one
    // start merge under compile.
    auto at = static_cast<ShapeElem>(k);
    array start = astype(slice(starts, {at}, {at + 1}, {1}), int64);
    idx.push_back(reshape(add(start, arange(0, sizes[k], 1, int64)), r));
  }
  return idx;
}

}  // namespace

void init_indexing(nb::module_& m) {
  m.def("take",
        [](const array& a, nb::handle idx, std::optional<int> axis, S s) { return take(a, take_index(idx), axis, s); },
        "a"_a, "indices"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def("take_along_axis",
        [](const array& a, const array& idx, std::optional<int> axis, S s) { return take_along_axis(a, idx, axis, s); },
        "a"_a, "indices"_a, "axis"_a.none() = -1, nb::kw_only(), "stream"_a = nb::none());
  m.def("put_along_axis",
        [](const array& a, const array& idx, const array& values, std::optional<int> axis, S s) {
          return put_along_axis(a, idx, values, axis, s);
        },
        "a"_a, "indices"_a, "values"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def(
      "slice",
      [](const array& a, const array& start, const std::vector<int>& axes_in, const std::vector<int>& size, S s) {
        auto axes = slice_axes(a, axes_in, "slice");
        if (static_cast<int>(size.size()) != a.ndim())
          throw std::invalid_argument("[slice] slice_size needs one entry per dimension of the array.");
        array st = slice_starts(start, axes.size(), "slice");
        for (int d = 0; d < a.ndim(); ++d)
          if (size[d] < 0 || size[d] > a.shape(d))
            throw std::invalid_argument("[slice] slice_size " + std::to_string(size[d]) +
                                        " does not fit axis " + std::to_string(d) + " of size " +
                                        std::to_string(a.shape(d)) + ".");
        // Axes without a start keep their first slice_size elements.
        Shape lo(a.ndim(), 0), hi(size.begin(), size.end()), step(a.ndim(), 1);
        for (int ax : axes) lo[ax] = 0, hi[ax] = a.shape(ax);
        array x = slice(a, lo, hi, step, s);
        std::vector<ShapeElem> sizes;
        for (int ax : axes) sizes.push_back(size[ax]);
        array g = gather(x, window_indices(st, sizes), axes, s);  // window dims first
        // Put the window dims back where their axes were.
        std::vector<int> perm(g.ndim());
        std::vector<bool> used(a.ndim(), false);
        for (int ax : axes) used[ax] = true;
        int k = static_cast<int>(axes.size()), other = 0;
        std::vector<int> pos(a.ndim());
        for (size_t j = 0; j < axes.size(); ++j) pos[axes[j]] = static_cast<int>(j);
        for (int d = 0; d < a.ndim(); ++d) perm[d] = used[d] ? pos[d] : k + other++;
        return transpose(g, perm, s);
      },
      "a"_a, "start_indices"_a, "axes"_a, "slice_size"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def(
      "slice_update",
      [](const array& a, const array& update, const array& start, const std::vector<int>& axes_in, S s) {
        auto axes = slice_axes(a, axes_in, "slice_update");
        array st = slice_starts(start, axes.size(), "slice_update");
        if (update.ndim() > a.ndim())
          throw std::invalid_argument("[slice_update] The update has more dimensions than the array.");
        Shape u_shape(a.ndim() - update.ndim(), 1);
        u_shape.insert(u_shape.end(), update.shape().begin(), update.shape().end());
        // The window: the update's size on the sliced axes, the array's elsewhere.
        Shape window = a.shape();
        std::vector<ShapeElem> sizes;
        for (int ax : axes) {
          window[ax] = u_shape[ax];
          if (window[ax] > a.shape(ax))
            throw std::invalid_argument("[slice_update] The update does not fit axis " + std::to_string(ax) + ".");
          sizes.push_back(window[ax]);
        }
        array u = broadcast_to(reshape(update, u_shape, s), window, s);
        std::vector<int> perm(axes.begin(), axes.end());
        std::vector<bool> used(a.ndim(), false);
        for (int ax : axes) used[ax] = true;
        for (int d = 0; d < a.ndim(); ++d)
          if (!used[d]) perm.push_back(d);
        return scatter(a, window_indices(st, sizes), transpose(u, perm, s), axes, ScatterMode::Replace, s);
      },
      "a"_a, "update"_a, "start_indices"_a, "axes"_a, nb::kw_only(), "stream"_a = nb::none());
  // Behind array.at[index].add(...) and friends (python/lmx/core/_array_methods.py).
  m.def("_index_update", [](const array& a, nb::handle index, nb::handle value, const std::string& mode) {
    ScatterMode m = mode == "add" ? ScatterMode::Add
                    : mode == "multiply" ? ScatterMode::Prod
                    : mode == "maximum" ? ScatterMode::Max
                    : mode == "minimum" ? ScatterMode::Min
                                        : ScatterMode::Replace;
    return update_item(a, index, value, m);
  }, "a"_a, "index"_a.none(), "value"_a, "mode"_a);
}

}  // namespace lmx::py
