#include "indexing.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>

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
// Integer arrays (lmx arrays, lists, NumPy arrays) used as indices.
bool is_array_index(nb::handle h) {
  if (is_array(h) || PyList_Check(h.ptr())) return true;
  if (PyBool_Check(h.ptr()) || PyLong_Check(h.ptr()) || PyFloat_Check(h.ptr()) || PyUnicode_Check(h.ptr()) ||
      PyTuple_Check(h.ptr()) || PySlice_Check(h.ptr()))
    return false;
  return nb::hasattr(h, "__array__") || nb::hasattr(h, "__dlpack__");
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
      if (!is_int_index(h) && !PySlice_Check(h.ptr()) && !is_array_index(h))
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
    } else if (PySlice_Check(h.ptr())) {
      items.push_back({Item::Slice, h, {}});
    } else {
      array arr = to_array(h);
      if (arr.dtype() == bool_)
        throw std::invalid_argument("[index] Boolean masks are not supported as indices (as in MLX); use where().");
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

Plan plan_index(const array& a, const std::vector<Item>& items) {
  bool advanced = false;
  for (auto& it : items) advanced |= it.kind == Item::Array;
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

array get_item(const array& a, nb::handle index) {
  Plan p = plan_index(a, parse_items(a, index));
  array view = reshape(slice(a, p.start, p.stop, p.step), p.view_shape);
  if (p.arrays.empty()) return reshape(view, drop(p.view_shape, p.drop_dims));
  array g = gather(view, p.arrays, p.array_dims);
  return transpose(g, result_perm(p, broadcast_ndim(p.arrays)));
}

array update_item(const array& a, nb::handle index, nb::handle value, ScatterMode mode) {
  Plan p = plan_index(a, parse_items(a, index));
  array v = to_array_like(value, a.dtype());
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

void init_indexing(nb::module_& m) {
  using A = ArrayLike;
  m.def("take", [](const A& a, const A& idx, std::optional<int> axis, S s) { return take(a, idx, axis, s); }, "a"_a,
        "indices"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def("take_along_axis",
        [](const A& a, const A& idx, std::optional<int> axis, S s) { return take_along_axis(a, idx, axis, s); },
        "a"_a, "indices"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def("put_along_axis",
        [](const A& a, const A& idx, nb::handle values, std::optional<int> axis, S s) {
          const array& x = a;
          return put_along_axis(x, idx, to_array_like(values, x.dtype()), axis, s);
        },
        "a"_a, "indices"_a, "values"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
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
