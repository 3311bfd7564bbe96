// Bindings of the matrix-product family (lmx/ops/matmul.cpp).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include "convert.h"

namespace lmx::py {

using namespace nb::literals;
using A = ArrayLike;

void init_matmul(nb::module_& m) {
  m.def("matmul", [](const A& a, const A& b, S s) { return matmul(a, b, s); }, "a"_a, "b"_a, nb::kw_only(),
        "stream"_a = nb::none());
  m.def("addmm",
        [](const A& c, const A& a, const A& b, float alpha, float beta, S s) { return addmm(c, a, b, alpha, beta, s); },
        "c"_a, "a"_a, "b"_a, "alpha"_a = 1.0f, "beta"_a = 1.0f, nb::kw_only(), "stream"_a = nb::none());
  m.def(
      "tensordot",
      [](const A& a, const A& b, nb::handle axes, S s) {
        if (PyLong_Check(axes.ptr())) return tensordot(a, b, nb::cast<int>(axes), s);
        auto pair = nb::cast<std::vector<nb::object>>(axes);
        if (pair.size() != 2) throw std::invalid_argument("[tensordot] axes must be an int or a pair of lists.");
        auto as_list = [](nb::handle h) {
          if (PyLong_Check(h.ptr())) return std::vector<int>{nb::cast<int>(h)};
          return nb::cast<std::vector<int>>(h);
        };
        return tensordot(a, b, as_list(pair[0]), as_list(pair[1]), s);
      },
      "a"_a, "b"_a, "axes"_a = 2, nb::kw_only(), "stream"_a = nb::none());
  m.def("inner", [](const A& a, const A& b, S s) { return inner(a, b, s); }, "a"_a, "b"_a, nb::kw_only(),
        "stream"_a = nb::none());
  m.def("outer", [](const A& a, const A& b, S s) { return outer(a, b, s); }, "a"_a, "b"_a, nb::kw_only(),
        "stream"_a = nb::none());
  m.def("kron", [](const A& a, const A& b, S s) { return kron(a, b, s); }, "a"_a, "b"_a, nb::kw_only(),
        "stream"_a = nb::none());
}

}  // namespace lmx::py
