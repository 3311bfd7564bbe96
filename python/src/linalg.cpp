// Bindings of mx.linalg (lmx/ops/linalg.h), a submodule of lmx.core.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "lmx/ops/linalg.h"

namespace lmx::py {

using namespace nb::literals;

void init_linalg(nb::module_& parent) {
  nb::module_ m = parent.def_submodule("linalg", "Linear algebra: norms, factorisations and solves.");
  m.def(
      "norm",
      [](const array& a, nb::handle ord, nb::handle axis, bool keepdims, S s) {
        std::optional<linalg::Ord> o;
        if (PyUnicode_Check(ord.ptr())) o = nb::cast<std::string>(ord);
        else if (!ord.is_none()) o = nb::cast<double>(ord);
        std::optional<std::vector<int>> ax;
        if (PyLong_Check(axis.ptr())) ax = std::vector<int>{nb::cast<int>(axis)};
        else if (!axis.is_none()) ax = nb::cast<std::vector<int>>(axis);
        return linalg::norm(a, o, ax, keepdims, s);
      },
      "a"_a, "ord"_a = nb::none(), "axis"_a = nb::none(), "keepdims"_a = false, nb::kw_only(),
      "stream"_a = nb::none());
  m.def("qr", [](const array& a, S s) { return linalg::qr(a, s); }, "a"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def(
      "svd",
      [](const array& a, bool compute_uv, S s) -> nb::object {
        auto r = linalg::svd(a, compute_uv, s);
        if (!compute_uv) return nb::cast(r[0]);
        return nb::make_tuple(r[0], r[1], r[2]);
      },
      "a"_a, "compute_uv"_a = true, nb::kw_only(), "stream"_a = nb::none());
  m.def("inv", [](const array& a, S s) { return linalg::inv(a, s); }, "a"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def("tri_inv", [](const array& a, bool upper, S s) { return linalg::tri_inv(a, upper, s); }, "a"_a,
        "upper"_a = false, nb::kw_only(), "stream"_a = nb::none());
  m.def("cholesky", [](const array& a, bool upper, S s) { return linalg::cholesky(a, upper, s); }, "a"_a,
        "upper"_a = false, nb::kw_only(), "stream"_a = nb::none());
  m.def("cholesky_inv", [](const array& a, bool upper, S s) { return linalg::cholesky_inv(a, upper, s); }, "L"_a,
        "upper"_a = false, nb::kw_only(), "stream"_a = nb::none());
  m.def("pinv", [](const array& a, S s) { return linalg::pinv(a, s); }, "a"_a, nb::kw_only(),
        "stream"_a = nb::none());
  m.def("lu_factor", [](const array& a, S s) { return linalg::lu_factor(a, s); }, "a"_a, nb::kw_only(),
        "stream"_a = nb::none());
  m.def(
      "lu",
      [](const array& a, S s) {
        auto r = linalg::lu(a, s);
        return nb::make_tuple(r[0], r[1], r[2]);
      },
      "a"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def("solve", [](const array& a, const array& b, S s) { return linalg::solve(a, b, s); }, "a"_a, "b"_a,
        nb::kw_only(), "stream"_a = nb::none());
  m.def("solve_triangular",
        [](const array& a, const array& b, bool upper, S s) { return linalg::solve_triangular(a, b, upper, s); },
        "a"_a, "b"_a, nb::kw_only(), "upper"_a = false, "stream"_a = nb::none());
  m.def("cross", [](const array& a, const array& b, int axis, S s) { return linalg::cross(a, b, axis, s); }, "a"_a,
        "b"_a, "axis"_a = -1, nb::kw_only(), "stream"_a = nb::none());
  m.def("eig", [](const array& a, S s) { return linalg::eig(a, s); }, "a"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def("eigvals", [](const array& a, S s) { return linalg::eigvals(a, s); }, "a"_a, nb::kw_only(),
        "stream"_a = nb::none());
  m.def("eigh", [](const array& a, const std::string& uplo, S s) { return linalg::eigh(a, uplo, s); }, "a"_a,
        "UPLO"_a = "L", nb::kw_only(), "stream"_a = nb::none());
  m.def("eigvalsh", [](const array& a, const std::string& uplo, S s) { return linalg::eigvalsh(a, uplo, s); },
        "a"_a, "UPLO"_a = "L", nb::kw_only(), "stream"_a = nb::none());
  m.def("det", [](const array& a, S s) { return linalg::det(a, s); }, "a"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def("slogdet", [](const array& a, S s) { return linalg::slogdet(a, s); }, "a"_a, nb::kw_only(),
        "stream"_a = nb::none());
}

}  // namespace lmx::py
