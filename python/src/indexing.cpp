#include "indexing.h"

#include <stdexcept>
#include <string>

namespace lmx::py {

namespace {

// The windows an index selects: per input axis a (start, stop, step), plus
// the shape of the indexed result (ints drop axes, None adds them).
struct Window {
  Shape start, stop, step;
  Shape window_shape;  // slice() result: one entry per input axis
  Shape result_shape;
};

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

Window parse(const array& a, nb::handle index) {
  std::vector<nb::handle> items;
  nb::tuple tup;
  if (PyTuple_Check(index.ptr())) {
    tup = nb::borrow<nb::tuple>(index);
    for (nb::handle h : tup) items.push_back(h);
  } else {
    items.push_back(index);
  }
  int consumed = 0;
  bool seen_ellipsis = false;
  for (auto h : items) {
    if (is_ellipsis(h)) {
      if (seen_ellipsis) throw std::invalid_argument("[index] An index can only have a single ellipsis ('...').");
      seen_ellipsis = true;
    } else if (!is_none(h)) {
      if (!is_int_index(h) && !PySlice_Check(h.ptr()))
        throw std::invalid_argument(
            "[index] Only integers, slices, ellipsis and None are supported as indices; array and boolean "
            "indexing are not implemented yet.");
      ++consumed;
    }
  }
  if (consumed > a.ndim())
    throw std::invalid_argument("[index] Too many indices for array with " + std::to_string(a.ndim()) +
                                " dimensions.");
  Window w;
  int axis = 0;
  auto full_axis = [&](int ax) {
    w.start.push_back(0);
    w.stop.push_back(a.shape(ax));
    w.step.push_back(1);
    w.window_shape.push_back(a.shape(ax));
    w.result_shape.push_back(a.shape(ax));
  };
  for (auto h : items) {
    if (is_ellipsis(h)) {
      int fill = a.ndim() - consumed;
      for (int i = 0; i < fill; ++i) full_axis(axis++);
      consumed = a.ndim();  // ellipsis used up the free axes
      continue;
    }
    if (is_none(h)) {
      w.result_shape.push_back(1);
      continue;
    }
    ShapeElem n = a.shape(axis);
    if (is_int_index(h)) {
      nb::object as_int = nb::steal(PyNumber_Index(h.ptr()));
      long long i = PyLong_AsLongLong(as_int.ptr());
      if (PyErr_Occurred()) {
        PyErr_Clear();
        throw std::out_of_range("[index] Index out of range.");
      }
      if (i < -n || i >= n)
        throw std::out_of_range("[index] Index " + std::to_string(i) + " is out of bounds for axis " +
                                std::to_string(axis) + " with size " + std::to_string(n) + ".");
      if (i < 0) i += n;
      w.start.push_back(static_cast<ShapeElem>(i));
      w.stop.push_back(static_cast<ShapeElem>(i + 1));
      w.step.push_back(1);
      w.window_shape.push_back(1);
    } else {
      Py_ssize_t st, sp, step;
      if (PySlice_Unpack(h.ptr(), &st, &sp, &step) < 0) throw nb::python_error();
      Py_ssize_t len = PySlice_AdjustIndices(n, &st, &sp, step);
      // Past-the-front stops of negative steps are spelled -(n+1) for slice().
      if (len == 0) st = sp = 0, step = 1;
      if (step < 0 && sp < 0) sp = -static_cast<Py_ssize_t>(n) - 1;
      w.start.push_back(static_cast<ShapeElem>(st));
      w.stop.push_back(static_cast<ShapeElem>(sp));
      w.step.push_back(static_cast<ShapeElem>(step));
      w.window_shape.push_back(static_cast<ShapeElem>(len));
      w.result_shape.push_back(static_cast<ShapeElem>(len));
    }
    ++axis;
  }
  while (axis < a.ndim()) full_axis(axis++);
  return w;
}

}  // namespace

array get_item(const array& a, nb::handle index) {
  Window w = parse(a, index);
  array out = slice(a, w.start, w.stop, w.step);
  return reshape(out, w.result_shape);
}

array set_item(const array& a, nb::handle index, nb::handle value) {
  Window w = parse(a, index);
  array v = to_array_like(value, a.dtype());
  // Broadcast against the indexed shape, then lay out as the window.
  Shape target = w.result_shape;
  if (v.ndim() > static_cast<int>(target.size())) {
    int extra = v.ndim() - static_cast<int>(target.size());
    for (int i = 0; i < extra; ++i)
      if (v.shape(i) != 1)
        throw std::invalid_argument("[index] Cannot assign an array of shape " + shape_string(v.shape()) +
                                    " to an indexed window of shape " + shape_string(target) + ".");
    v = reshape(v, Shape(v.shape().begin() + extra, v.shape().end()));
  }
  v = broadcast_to(v, target);
  v = reshape(v, w.window_shape);
  return slice_update(a, v, w.start, w.stop, w.step);
}

}  // namespace lmx::py
