// Op bindings: MLX's names, signatures and defaults.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include <limits>
#include <stdexcept>

#include "convert.h"

namespace lmx::py {

using namespace nb::literals;
using A = ArrayLike;

namespace {

// `axis` arguments: None (all axes), an int, or a sequence of ints.
std::optional<std::vector<int>> axes_arg(nb::handle axis) {
  if (axis.is_none()) return std::vector<int>{};
  if (PyLong_Check(axis.ptr())) return std::vector<int>{nb::cast<int>(axis)};
  auto v = nb::cast<std::vector<int>>(axis);
  if (v.empty()) return std::nullopt;  // () reduces nothing
  return v;
}

// Shapes are 32-bit (as in MLX): larger dimensions raise OverflowError.
ShapeElem dim_arg(nb::handle d) {
  if (!PyLong_Check(d.ptr())) throw nb::type_error("[shape] Dimensions must be integers.");
  long long v = PyLong_AsLongLong(d.ptr());
  if ((v == -1 && PyErr_Occurred()) || v > std::numeric_limits<ShapeElem>::max() ||
      v < std::numeric_limits<ShapeElem>::min()) {
    PyErr_Clear();
    throw std::overflow_error("[shape] Dimension " + std::string(nb::str(d).c_str()) +
                              " does not fit a 32-bit shape.");
  }
  return static_cast<ShapeElem>(v);
}

Shape shape_arg(nb::handle shape) {
  if (PyLong_Check(shape.ptr())) return {dim_arg(shape)};
  Shape out;
  for (nb::handle d : nb::iter(shape)) out.push_back(dim_arg(d));
  return out;
}

}  // namespace

void init_ops(nb::module_& m) {
  // ---- creation ----
  m.def("arange",
        [](nb::handle start, nb::handle stop, nb::handle step, std::optional<Dtype> dtype, S s) {
          // arange(stop) or arange(start, stop[, step]); ints give int32 (int64 when a
          // bound needs it) unless a float appears.
          if (start.is_none() && stop.is_none()) throw nb::type_error("[arange] A stop value is required.");
          nb::handle args[3] = {start, stop, step};
          bool any_float = false, wide = false;
          for (auto h : args) {
            if (h.is_none()) continue;
            if (PyFloat_Check(h.ptr())) any_float = true;
            else if (nb::cast<double>(h) >= 2147483648.0 || nb::cast<double>(h) < -2147483648.0) wide = true;
          }
          double st = 0, sp, sz = 1;
          if (stop.is_none()) {
            sp = nb::cast<double>(start);
          } else {
            if (!start.is_none()) st = nb::cast<double>(start);
            sp = nb::cast<double>(stop);
          }
          if (!step.is_none()) sz = nb::cast<double>(step);
          return arange(st, sp, sz, dtype.value_or(any_float ? float32 : wide ? int64 : int32), s);
        },
        "start"_a = nb::none(), "stop"_a = nb::none(), "step"_a = nb::none(), "dtype"_a = nb::none(), nb::kw_only(),
        "stream"_a = nb::none());
  m.def(
      "linspace",
      [](double a, double b, std::optional<int> num, bool endpoint, std::optional<Dtype> t, S s) {
        return linspace(a, b, num.value_or(50), endpoint, t.value_or(float32), s);
      },
      "start"_a, "stop"_a, "num"_a = 50, "endpoint"_a = true, "dtype"_a = float32, "stream"_a = nb::none());
  m.def("full",
        [](nb::handle shape, nb::handle vals, std::optional<Dtype> dtype, S s) {
          // A Python scalar converts straight to dtype (so overflow raises);
          // the result always has dtype when one is given.
          array v = dtype ? to_array_like(vals, *dtype) : to_array(vals);
          return full(shape_arg(shape), v, dtype.value_or(v.dtype()), s);
        },
        "shape"_a, "vals"_a, "dtype"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def("zeros", [](nb::handle shape, Dtype t, S s) { return zeros(shape_arg(shape), t, s); }, "shape"_a,
        "dtype"_a = float32, nb::kw_only(), "stream"_a = nb::none());
  m.def("ones", [](nb::handle shape, Dtype t, S s) { return ones(shape_arg(shape), t, s); }, "shape"_a,
        "dtype"_a = float32, nb::kw_only(), "stream"_a = nb::none());
  m.def("zeros_like", [](const A& a, std::optional<Dtype> t, S s) { return zeros_like(a, t, s); }, "a"_a,
        "dtype"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def("ones_like", [](const A& a, std::optional<Dtype> t, S s) { return ones_like(a, t, s); }, "a"_a,
        "dtype"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def("full_like",
        [](const A& a, nb::handle vals, std::optional<Dtype> dtype, S s) {
          const array& x = a;
          return full_like(x, to_array_like(vals, dtype.value_or(x.dtype())), dtype, s);
        },
        "a"_a, "vals"_a, "dtype"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def("eye", [](int n, std::optional<int> m_, int k, Dtype t, S s) { return eye(n, m_.value_or(n), k, t, s); },
        "n"_a, "m"_a = nb::none(), "k"_a = 0, "dtype"_a = float32, nb::kw_only(), "stream"_a = nb::none());
  m.def("identity", [](int n, Dtype t, S s) { return identity(n, t, s); }, "n"_a, "dtype"_a = float32, nb::kw_only(),
        "stream"_a = nb::none());
  m.def("tri", [](int n, std::optional<int> m_, int k, Dtype t, S s) { return tri(n, m_.value_or(n), k, t, s); },
        "n"_a, "m"_a = nb::none(), "k"_a = 0, "dtype"_a = float32, nb::kw_only(), "stream"_a = nb::none());
  m.def("tril", [](const A& x, int k, S s) { return tril(x, k, s); }, "x"_a, "k"_a = 0, nb::kw_only(),
        "stream"_a = nb::none());
  m.def("triu", [](const A& x, int k, S s) { return triu(x, k, s); }, "x"_a, "k"_a = 0, nb::kw_only(),
        "stream"_a = nb::none());
  m.def("meshgrid",
        [](nb::args arrays, bool sparse, std::string indexing, S s) {
          std::vector<array> v;
          for (auto h : arrays) v.push_back(to_array(h));
          nb::list out;
          for (auto& g : meshgrid(v, sparse, indexing, s)) out.append(g);
          return nb::tuple(out);
        },
        "arrays"_a, "sparse"_a = false, "indexing"_a = "xy", "stream"_a = nb::none());
  m.def("copy", [](const A& a, S s) { return copy(a, s); }, "a"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def("astype", [](const A& a, Dtype t, S s) { return astype(a, t, s); }, "a"_a, "dtype"_a, nb::kw_only(),
        "stream"_a = nb::none());
  m.def("view", [](const A& a, Dtype t, S s) { return view(a, t, s); }, "a"_a, "dtype"_a, nb::kw_only(),
        "stream"_a = nb::none());
  m.def("contiguous", [](const A& a, bool col, S s) { return contiguous(a, col, s); }, "a"_a,
        "allow_col_major"_a = false, nb::kw_only(), "stream"_a = nb::none());
  m.def("as_strided",
        [](const A& a, std::optional<Shape> shape, std::optional<Strides> strides, int64_t offset, S s) {
          const array& x = a;
          Shape sh = shape.value_or(x.shape());
          Strides st = strides.value_or(row_major_strides(sh));
          return as_strided(x, sh, st, offset, s);
        },
        "a"_a, "shape"_a = nb::none(), "strides"_a = nb::none(), "offset"_a = 0, nb::kw_only(),
        "stream"_a = nb::none());

  // ---- unary ----
#define LMX_BIND_UNARY(fn) \
  m.def(#fn, [](const A& a, S s) { return fn(a, s); }, "a"_a, nb::kw_only(), "stream"_a = nb::none());
  LMX_BIND_UNARY(abs) LMX_BIND_UNARY(sign) LMX_BIND_UNARY(negative) LMX_BIND_UNARY(square) LMX_BIND_UNARY(sqrt)
  LMX_BIND_UNARY(rsqrt) LMX_BIND_UNARY(reciprocal) LMX_BIND_UNARY(exp) LMX_BIND_UNARY(expm1) LMX_BIND_UNARY(log)
  LMX_BIND_UNARY(log2) LMX_BIND_UNARY(log10) LMX_BIND_UNARY(log1p) LMX_BIND_UNARY(sin) LMX_BIND_UNARY(cos)
  LMX_BIND_UNARY(tan) LMX_BIND_UNARY(arcsin) LMX_BIND_UNARY(arccos) LMX_BIND_UNARY(arctan) LMX_BIND_UNARY(sinh)
  LMX_BIND_UNARY(cosh) LMX_BIND_UNARY(tanh) LMX_BIND_UNARY(arcsinh) LMX_BIND_UNARY(arccosh)
  LMX_BIND_UNARY(arctanh) LMX_BIND_UNARY(erf) LMX_BIND_UNARY(erfinv) LMX_BIND_UNARY(sigmoid)
  LMX_BIND_UNARY(floor) LMX_BIND_UNARY(ceil) LMX_BIND_UNARY(logical_not) LMX_BIND_UNARY(bitwise_invert)
  LMX_BIND_UNARY(isnan) LMX_BIND_UNARY(isinf) LMX_BIND_UNARY(isfinite) LMX_BIND_UNARY(isposinf)
  LMX_BIND_UNARY(isneginf) LMX_BIND_UNARY(real) LMX_BIND_UNARY(imag) LMX_BIND_UNARY(conjugate)
  LMX_BIND_UNARY(stop_gradient) LMX_BIND_UNARY(degrees) LMX_BIND_UNARY(radians)
#undef LMX_BIND_UNARY
  m.attr("conj") = m.attr("conjugate");
  m.def("round", [](const A& a, int decimals, S s) { return round(a, decimals, s); }, "a"_a, "decimals"_a = 0,
        nb::kw_only(), "stream"_a = nb::none());
  m.def("nan_to_num",
        [](const A& a, float nan, std::optional<float> posinf, std::optional<float> neginf, S s) {
          return nan_to_num(a, nan, posinf, neginf, s);
        },
        "a"_a, "nan"_a = 0.0f, "posinf"_a = nb::none(), "neginf"_a = nb::none(), nb::kw_only(),
        "stream"_a = nb::none());

  // ---- binary (Python scalars are weak) ----
#define LMX_BIND_BINARY(fn)                                                    \
  m.def(#fn,                                                                   \
        [](nb::handle a, nb::handle b, S s) {                                  \
          auto [x, y] = to_arrays(a, b);                                       \
          return fn(x, y, s);                                                  \
        },                                                                     \
        "a"_a, "b"_a, nb::kw_only(), "stream"_a = nb::none());
  LMX_BIND_BINARY(add) LMX_BIND_BINARY(subtract) LMX_BIND_BINARY(multiply) LMX_BIND_BINARY(divide)
  LMX_BIND_BINARY(floor_divide) LMX_BIND_BINARY(remainder) LMX_BIND_BINARY(power) LMX_BIND_BINARY(maximum)
  LMX_BIND_BINARY(minimum) LMX_BIND_BINARY(arctan2) LMX_BIND_BINARY(logaddexp) LMX_BIND_BINARY(equal)
  LMX_BIND_BINARY(not_equal) LMX_BIND_BINARY(less) LMX_BIND_BINARY(less_equal) LMX_BIND_BINARY(greater)
  LMX_BIND_BINARY(greater_equal) LMX_BIND_BINARY(logical_and) LMX_BIND_BINARY(logical_or)
  LMX_BIND_BINARY(logical_xor) LMX_BIND_BINARY(bitwise_and) LMX_BIND_BINARY(bitwise_or)
  LMX_BIND_BINARY(bitwise_xor) LMX_BIND_BINARY(left_shift) LMX_BIND_BINARY(right_shift)
#undef LMX_BIND_BINARY
  m.def("divmod",
        [](nb::handle a, nb::handle b, S s) {
          auto [x, y] = to_arrays(a, b);
          auto [q, r] = divmod(x, y, s);
          return nb::make_tuple(q, r);
        },
        "a"_a, "b"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def("where",
        [](nb::handle c, nb::handle x, nb::handle y, S s) {
          auto [a, b] = to_arrays(x, y);
          return where(to_array(c), a, b, s);
        },
        "condition"_a, "x"_a, "y"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def("clip",
        [](const A& a, nb::handle lo, nb::handle hi, S s) {
          const array& x = a;
          std::optional<array> l, h;
          if (!lo.is_none()) l = to_array_like(lo, x.dtype());
          if (!hi.is_none()) h = to_array_like(hi, x.dtype());
          return clip(x, l, h, s);
        },
        "a"_a, "a_min"_a.none(), "a_max"_a.none(), nb::kw_only(), "stream"_a = nb::none());
  m.def("isclose",
        [](nb::handle a, nb::handle b, double rtol, double atol, bool equal_nan, S s) {
          auto [x, y] = to_arrays(a, b);
          return isclose(x, y, rtol, atol, equal_nan, s);
        },
        "a"_a, "b"_a, "rtol"_a = 1e-5, "atol"_a = 1e-8, nb::kw_only(), "equal_nan"_a = false, "stream"_a = nb::none());
  m.def("allclose",
        [](nb::handle a, nb::handle b, double rtol, double atol, bool equal_nan, S s) {
          auto [x, y] = to_arrays(a, b);
          return allclose(x, y, rtol, atol, equal_nan, s);
        },
        "a"_a, "b"_a, "rtol"_a = 1e-5, "atol"_a = 1e-8, nb::kw_only(), "equal_nan"_a = false, "stream"_a = nb::none());
  m.def("array_equal",
        [](nb::handle a, nb::handle b, bool equal_nan, S s) {
          auto [x, y] = to_arrays(a, b);
          return array_equal(x, y, equal_nan, s);
        },
        "a"_a, "b"_a, nb::kw_only(), "equal_nan"_a = false, "stream"_a = nb::none());

  // ---- reductions ----
#define LMX_BIND_REDUCE(fn)                                                                            \
  m.def(#fn, [](const A& a, nb::handle axis, bool keepdims, S s) {                                     \
          auto axes = axes_arg(axis);                                                                  \
          if (!axes) return static_cast<const array&>(a);                                              \
          return fn(a, *axes, keepdims, s);                                                            \
        },                                                                                             \
        "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, nb::kw_only(), "stream"_a = nb::none());
  LMX_BIND_REDUCE(sum) LMX_BIND_REDUCE(prod) LMX_BIND_REDUCE(max) LMX_BIND_REDUCE(min) LMX_BIND_REDUCE(all)
  LMX_BIND_REDUCE(any) LMX_BIND_REDUCE(mean) LMX_BIND_REDUCE(logsumexp) LMX_BIND_REDUCE(count_nonzero)
#undef LMX_BIND_REDUCE
  m.def("var",
        [](const A& a, nb::handle axis, bool keepdims, int ddof, S s) {
          auto axes = axes_arg(axis);
          return var(a, axes.value_or(std::vector<int>{}), keepdims, ddof, s);
        },
        "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, "ddof"_a = 0, nb::kw_only(), "stream"_a = nb::none());
  m.def("std",
        [](const A& a, nb::handle axis, bool keepdims, int ddof, S s) {
          auto axes = axes_arg(axis);
          return lmx::std(a, axes.value_or(std::vector<int>{}), keepdims, ddof, s);
        },
        "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, "ddof"_a = 0, nb::kw_only(), "stream"_a = nb::none());
  m.def("softmax",
        [](const A& a, nb::handle axis, bool precise, S s) {
          return softmax(a, axes_arg(axis).value_or(std::vector<int>{}), precise, s);
        },
        "a"_a, "axis"_a = nb::none(), nb::kw_only(), "precise"_a = false, "stream"_a = nb::none());
  m.def("argmax", [](const A& a, std::optional<int> axis, bool keepdims, S s) { return argmax(a, axis, keepdims, s); },
        "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, nb::kw_only(), "stream"_a = nb::none());
  m.def("argmin", [](const A& a, std::optional<int> axis, bool keepdims, S s) { return argmin(a, axis, keepdims, s); },
        "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, nb::kw_only(), "stream"_a = nb::none());

  // ---- shape ----
  m.def("reshape", [](const A& a, nb::handle shape, S s) { return reshape(a, shape_arg(shape), s); }, "a"_a,
        "shape"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def("flatten", [](const A& a, int st, int en, S s) { return flatten(a, st, en, s); }, "a"_a, "start_axis"_a = 0,
        "end_axis"_a = -1, nb::kw_only(), "stream"_a = nb::none());
  m.def("unflatten", [](const A& a, int axis, nb::handle shape, S s) { return unflatten(a, axis, shape_arg(shape), s); },
        "a"_a, "axis"_a, "shape"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def("squeeze",
        [](const A& a, nb::handle axis, S s) {
          if (axis.is_none()) return squeeze(a, s);
          return squeeze(a, *axes_arg(axis), s);
        },
        "a"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def("expand_dims", [](const A& a, nb::handle axis, S s) { return expand_dims(a, *axes_arg(axis), s); }, "a"_a,
        "axis"_a, nb::kw_only(), "stream"_a = nb::none());
  auto transpose_fn = [](const A& a, std::optional<std::vector<int>> axes, S s) {
    return axes ? transpose(a, *axes, s) : transpose(a, s);
  };
  m.def("transpose", transpose_fn, "a"_a, "axes"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def("permute_dims", transpose_fn, "a"_a, "axes"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def("swapaxes", [](const A& a, int x, int y, S s) { return swapaxes(a, x, y, s); }, "a"_a, "axis1"_a, "axis2"_a,
        nb::kw_only(), "stream"_a = nb::none());
  m.def("moveaxis", [](const A& a, int x, int y, S s) { return moveaxis(a, x, y, s); }, "a"_a, "source"_a,
        "destination"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def("broadcast_to", [](const A& a, nb::handle shape, S s) { return broadcast_to(a, shape_arg(shape), s); },
        "a"_a, "shape"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def("broadcast_arrays",
        [](nb::args arrays, S s) {
          std::vector<array> v;
          for (auto h : arrays) v.push_back(to_array(h));
          nb::list out;
          for (auto& a : broadcast_arrays(v, s)) out.append(a);
          return nb::tuple(out);
        },
        "arrays"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def("broadcast_shapes", [](nb::args shapes) {
    if (shapes.size() == 0) throw std::invalid_argument("[broadcast_shapes] No shapes provided.");
    Shape out = shape_arg(shapes[0]);
    for (size_t i = 1; i < shapes.size(); ++i) out = broadcast_shapes(out, shape_arg(shapes[i]));
    nb::list l;
    for (auto d : out) l.append(d);
    return nb::tuple(l);
  });
  auto concat_fn = [](std::vector<A> arrays, std::optional<int> axis, S s) {
    std::vector<array> v;
    for (auto& a : arrays) v.push_back(a.value);
    return concatenate(v, axis, s);
  };
  m.def("concatenate", concat_fn, "arrays"_a, "axis"_a.none() = 0, nb::kw_only(), "stream"_a = nb::none());
  m.def("concat", concat_fn, "arrays"_a, "axis"_a.none() = 0, nb::kw_only(), "stream"_a = nb::none());
  m.def("stack",
        [](std::vector<A> arrays, int axis, S s) {
          std::vector<array> v;
    for (auto& a : arrays) v.push_back(a.value);
          return stack(v, axis, s);
        },
        "arrays"_a, "axis"_a = 0, nb::kw_only(), "stream"_a = nb::none());
  m.def("unstack", [](const A& a, int axis, S s) { return unstack(a, axis, s); }, "a"_a, "axis"_a = 0, nb::kw_only(),
        "stream"_a = nb::none());
  m.def("split",
        [](const A& a, nb::handle indices, int axis, S s) {
          if (PyLong_Check(indices.ptr())) return split(a, nb::cast<int>(indices), axis, s);
          return split(a, nb::cast<Shape>(indices), axis, s);
        },
        "a"_a, "indices_or_sections"_a, "axis"_a = 0, nb::kw_only(), "stream"_a = nb::none());
  m.def("repeat", [](const A& a, int r, std::optional<int> axis, S s) { return repeat(a, r, axis, s); }, "array"_a,
        "repeats"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def("tile",
        [](const A& a, nb::handle reps, S s) {
          Shape r = shape_arg(reps);
          return tile(a, std::vector<int>(r.begin(), r.end()), s);
        },
        "a"_a, "reps"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def("pad",
        [](const A& a, nb::handle pw, std::string mode, nb::handle value, S s) {
          // int | (before, after) | [(before, after), ...]
          std::vector<std::pair<int, int>> widths;
          if (PyLong_Check(pw.ptr())) {
            int w = nb::cast<int>(pw);
            widths.push_back({w, w});
          } else {
            nb::sequence seq = nb::borrow<nb::sequence>(pw);
            if (nb::len(seq) > 0 && PyLong_Check(nb::handle(seq[0]).ptr())) {
              auto v = nb::cast<std::vector<int>>(seq);
              if (v.size() == 1) widths.push_back({v[0], v[0]});
              else if (v.size() == 2) widths.push_back({v[0], v[1]});
              else throw std::invalid_argument("[pad] Invalid pad_width.");
            } else {
              for (nb::handle item : seq) {
                auto v = nb::cast<std::vector<int>>(item);
                if (v.size() == 1) widths.push_back({v[0], v[0]});
                else if (v.size() == 2) widths.push_back({v[0], v[1]});
                else throw std::invalid_argument("[pad] Invalid pad_width.");
              }
            }
          }
          const array& x = a;
          return pad(x, widths, to_array_like(value, x.dtype()), mode, s);
        },
        "a"_a, "pad_width"_a, "mode"_a = "constant", "constant_values"_a = 0, nb::kw_only(),
        "stream"_a = nb::none());
  m.def("flip",
        [](const A& a, nb::handle axis, S s) { return flip(a, axes_arg(axis).value_or(std::vector<int>{}), s); },
        "a"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def("roll",
        [](const A& a, nb::handle shift, nb::handle axis, S s) {
          Shape sh = shape_arg(shift);
          if (axis.is_none()) return roll(a, sh, {}, s);
          return roll(a, sh, *axes_arg(axis), s);
        },
        "a"_a, "shift"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  auto atleast = [](array (*f)(const array&, S)) {
    return [f](nb::args arrays, S s) -> nb::object {
      std::vector<array> out;
      for (auto h : arrays) out.push_back(f(to_array(h), s));
      if (out.size() == 1) return nb::cast(out[0]);
      return nb::cast(out);
    };
  };
  m.def("atleast_1d", atleast(&atleast_1d), "arys"_a, "stream"_a = nb::none());
  m.def("atleast_2d", atleast(&atleast_2d), "arys"_a, "stream"_a = nb::none());
  m.def("atleast_3d", atleast(&atleast_3d), "arys"_a, "stream"_a = nb::none());
  m.def("diagonal", [](const A& a, int off, int x, int y, S s) { return diagonal(a, off, x, y, s); }, "a"_a,
        "offset"_a = 0, "axis1"_a = 0, "axis2"_a = 1, nb::kw_only(), "stream"_a = nb::none());
  m.def("diag", [](const A& a, int k, S s) { return diag(a, k, s); }, "a"_a, "k"_a = 0, nb::kw_only(),
        "stream"_a = nb::none());
  m.def("trace",
        [](const A& a, int off, int x, int y, std::optional<Dtype> t, S s) { return trace(a, off, x, y, t, s); },
        "a"_a, "offset"_a = 0, "axis1"_a = 0, "axis2"_a = 1, "dtype"_a = nb::none(), nb::kw_only(),
        "stream"_a = nb::none());
  m.def("result_type", [](nb::args args) {
    std::optional<Dtype> t;
    for (auto h : args) {
      Dtype d;
      if (nb::isinstance<Dtype>(h)) d = nb::cast<Dtype>(h);
      else if (is_array(h)) d = nb::cast<array>(h).dtype();
      else throw std::invalid_argument("[result_type] Inputs must be arrays or dtypes.");
      t = t ? promote_types(*t, d) : d;
    }
    if (!t) throw std::invalid_argument("[result_type] At least one argument is required.");
    return *t;
  });
}

}  // namespace lmx::py
