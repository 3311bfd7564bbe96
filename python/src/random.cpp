// Bindings of mx.random (lmx/ops/random.h), a submodule of lmx.core.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "lmx/ops/random.h"

namespace lmx::py {

using namespace nb::literals;

namespace {

Shape shape_of(nb::handle h) {
  if (PyLong_Check(h.ptr())) return {nb::cast<ShapeElem>(h)};
  return nb::cast<Shape>(h);
}
std::optional<Shape> opt_shape(nb::handle h) {
  if (h.is_none()) return std::nullopt;
  return shape_of(h);
}
// Bounds and parameters: arrays or Python scalars (float32, as MLX).
array param(nb::handle h) { return is_array(h) ? nb::cast<array>(h) : to_array_like(h, float32); }
std::optional<array> opt_param(nb::handle h) {
  if (h.is_none()) return std::nullopt;
  return param(h);
}
uint64_t seed_arg(nb::handle h) {
  if (!PyLong_Check(h.ptr())) throw nb::type_error("[random] The seed must be an integer.");
  unsigned long long v = PyLong_AsUnsignedLongLong(h.ptr());
  if (PyErr_Occurred()) {
    PyErr_Clear();
    throw nb::type_error("[random] The seed must be in [0, 2**64).");
  }
  return v;
}

}  // namespace

void init_random(nb::module_& parent) {
  nb::module_ m = parent.def_submodule("random", "Key-based, splittable random number generation.");
  // mx.random.state: a list holding the global key, as in MLX, so that
  // compile(inputs=mx.random.state, outputs=mx.random.state) can thread it
  // through a compiled function. The store keeps the list alive until the
  // interpreter exits, when the library's own store takes over again.
  nb::list state;
  state.append(nb::cast(random::key(0)));
  m.attr("state") = state;
  PyObject* list = state.release().ptr();
  nb::module_::import_("atexit").attr("register")(nb::cpp_function([list]() {
    random::set_global_key_store({});
    Py_DECREF(list);
  }));
  auto current = [list]() {
    nb::handle item = PyList_Size(list) > 0 ? nb::handle(PyList_GetItem(list, 0)) : nb::handle();
    if (!item.is_valid() || !is_array(item))
      throw nb::type_error("[random] mx.random.state must be a list holding the global key array.");
    return nb::cast<array>(item);
  };
  random::set_global_key_store({[list, current](const random::KeyStep& step) {
                                  nb::gil_scoped_acquire gil;
                                  auto [next, use] = step(current());
                                  nb::borrow<nb::list>(list)[0] = nb::cast(next);
                                  return use;
                                },
                                [list](const array& k) {
                                  nb::gil_scoped_acquire gil;
                                  nb::list l = nb::borrow<nb::list>(list);
                                  if (l.size() == 0) l.append(nb::cast(k));
                                  else l[0] = nb::cast(k);
                                }});
  m.def("key", [](nb::handle s) { return random::key(seed_arg(s)); }, "seed"_a);
  m.def("seed", [](nb::handle s) { random::seed(seed_arg(s)); }, "seed"_a);
  m.def("split", [](const array& k, int num, S s) { return random::split(k, num, s); }, "key"_a, "num"_a = 2,
        "stream"_a = nb::none());
  m.def(
      "uniform",
      [](nb::handle low, nb::handle high, nb::handle shape, std::optional<Dtype> dtype, std::optional<array> key,
         S s) { return random::uniform(param(low), param(high), shape_of(shape), dtype.value_or(float32), key, s); },
      "low"_a = 0, "high"_a = 1, "shape"_a = nb::list(), "dtype"_a = float32, "key"_a = nb::none(),
      "stream"_a = nb::none());
  m.def(
      "normal",
      [](nb::handle shape, std::optional<Dtype> dtype, nb::handle loc, nb::handle scale, std::optional<array> key,
         S s) {
        return random::normal(shape_of(shape), dtype.value_or(float32), opt_param(loc), opt_param(scale), key, s);
      },
      "shape"_a = nb::list(), "dtype"_a = float32, "loc"_a = nb::none(), "scale"_a = nb::none(),
      "key"_a = nb::none(), "stream"_a = nb::none());
  m.def(
      "randint",
      [](nb::handle low, nb::handle high, nb::handle shape, std::optional<Dtype> dtype, std::optional<array> key,
         S s) {
        auto bound = [](nb::handle h) { return is_array(h) ? nb::cast<array>(h) : to_array(h); };
        return random::randint(bound(low), bound(high), shape_of(shape), dtype.value_or(int32), key, s);
      },
      "low"_a, "high"_a, "shape"_a = nb::list(), "dtype"_a = int32, "key"_a = nb::none(), "stream"_a = nb::none());
  m.def(
      "bernoulli",
      [](nb::handle p, nb::handle shape, std::optional<array> key, S s) {
        return random::bernoulli(param(p), opt_shape(shape), key, s);
      },
      "p"_a = 0.5, "shape"_a = nb::none(), "key"_a = nb::none(), "stream"_a = nb::none());
  m.def(
      "truncated_normal",
      [](nb::handle lower, nb::handle upper, nb::handle shape, std::optional<Dtype> dtype, std::optional<array> key,
         S s) {
        return random::truncated_normal(param(lower), param(upper), opt_shape(shape), dtype.value_or(float32), key,
                                        s);
      },
      "lower"_a, "upper"_a, "shape"_a = nb::none(), "dtype"_a = float32, "key"_a = nb::none(),
      "stream"_a = nb::none());
  m.def(
      "gumbel",
      [](nb::handle shape, std::optional<Dtype> dtype, std::optional<array> key, S s) {
        return random::gumbel(shape_of(shape), dtype.value_or(float32), key, s);
      },
      "shape"_a = nb::list(), "dtype"_a = float32, "key"_a = nb::none(), "stream"_a = nb::none());
  m.def(
      "laplace",
      [](nb::handle shape, std::optional<Dtype> dtype, float loc, float scale, std::optional<array> key, S s) {
        return random::laplace(shape_of(shape), dtype.value_or(float32), loc, scale, key, s);
      },
      "shape"_a = nb::list(), "dtype"_a = float32, "loc"_a = 0.0f, "scale"_a = 1.0f, "key"_a = nb::none(),
      "stream"_a = nb::none());
  m.def(
      "categorical",
      [](const array& logits, int axis, nb::handle shape, std::optional<int> num_samples, std::optional<array> key,
         S s) { return random::categorical(logits, axis, opt_shape(shape), num_samples, key, s); },
      "logits"_a, "axis"_a = -1, "shape"_a = nb::none(), "num_samples"_a = nb::none(), "key"_a = nb::none(),
      "stream"_a = nb::none());
  m.def(
      "permutation",
      [](nb::handle x, int axis, std::optional<array> key, S s) {
        if (PyLong_Check(x.ptr())) return random::permutation(nb::cast<int>(x), key, s);
        return random::permutation(nb::cast<array>(x), axis, key, s);
      },
      "x"_a, "axis"_a = 0, "key"_a = nb::none(), "stream"_a = nb::none());
  m.def(
      "multivariate_normal",
      [](const array& mean, const array& cov, nb::handle shape, std::optional<Dtype> dtype, std::optional<array> key,
         S s) { return random::multivariate_normal(mean, cov, shape_of(shape), dtype.value_or(float32), key, s); },
      "mean"_a, "cov"_a, "shape"_a = nb::list(), "dtype"_a = float32, "key"_a = nb::none(), "stream"_a = nb::none());
}

}  // namespace lmx::py
