// Bindings of the matrix-product family (lmx/ops/matmul.cpp).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include "convert.h"

namespace lmx::py {

using namespace nb::literals;
using A = ArrayLike;

void init_matmul(nb::module_& m) {
  // Products take arrays only (as MLX): lists and scalars raise TypeError.
  m.def("matmul", [](const array& a, const array& b, S s) { return matmul(a, b, s); }, "a"_a, "b"_a,
        nb::kw_only(), "stream"_a = nb::none());
  m.def("addmm",
        [](const array& c, const array& a, const array& b, float alpha, float beta, S s) {
          return addmm(c, a, b, alpha, beta, s);
        },
        "c"_a, "a"_a, "b"_a, "alpha"_a = 1.0f, "beta"_a = 1.0f, nb::kw_only(), "stream"_a = nb::none());
  m.def(
      "tensordot",
      [](const array& a, const array& b, nb::handle axes, S s) {
        if (PyLong_Check(axes.ptr())) return tensordot(a, b, nb::cast<int>(axes), s);
        auto pair = nb::cast<std::vector<nb::object>>(axes);
        if (pair.size() != 2) throw std::invalid_argument("[tensordot] axes must be an int or a pair of lists.");
        auto as_list = [](nb::handle h) {
          if (PyLong_Check(h.ptr())) throw nb::type_error("[tensordot] axes must be an int or a pair of lists.");
          return nb::cast<std::vector<int>>(h);
        };
        return tensordot(a, b, as_list(pair[0]), as_list(pair[1]), s);
      },
      "a"_a, "b"_a, "axes"_a = 2, nb::kw_only(), "stream"_a = nb::none());
  m.def("inner", [](const array& a, const array& b, S s) { return inner(a, b, s); }, "a"_a, "b"_a,
        nb::kw_only(), "stream"_a = nb::none());
  m.def("outer", [](const array& a, const array& b, S s) { return outer(a, b, s); }, "a"_a, "b"_a,
        nb::kw_only(), "stream"_a = nb::none());
  m.def("kron", [](const array& a, const array& b, S s) { return kron(a, b, s); }, "a"_a, "b"_a,
        nb::kw_only(), "stream"_a = nb::none());
  m.def("vecdot", [](const array& a, const array& b, int axis, S s) { return vecdot(a, b, axis, s); }, "a"_a,
        "b"_a, nb::kw_only(), "axis"_a = -1, "stream"_a = nb::none());
  m.def(
      "gather_mm",
      [](const array& a, const array& b, std::optional<array> li, std::optional<array> ri, bool, S s) {
        return gather_mm(a, b, li, ri, s);
      },
      "a"_a, "b"_a, "lhs_indices"_a = nb::none(), "rhs_indices"_a = nb::none(), nb::kw_only(),
      "sorted_indices"_a = false, "stream"_a = nb::none());
  m.def("segmented_mm",
        [](const array& a, const array& b, const array& segments, S s) { return segmented_mm(a, b, segments, s); },
        "a"_a, "b"_a, "segments"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def(
      "block_masked_mm",
      [](const array& a, const array& b, int block, std::optional<array> mo, std::optional<array> ml,
         std::optional<array> mr, S s) { return block_masked_mm(a, b, block, mo, ml, mr, s); },
      "a"_a, "b"_a, "block_size"_a = 64, "mask_out"_a = nb::none(), "mask_lhs"_a = nb::none(),
      "mask_rhs"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def("hadamard_transform",
        [](const array& a, std::optional<float> scale, S s) { return hadamard_transform(a, scale, s); }, "a"_a,
        "scale"_a = nb::none(), "stream"_a = nb::none());
  m.def(
      "einsum",
      [](const std::string& subscripts, nb::args operands, S s) {
        std::vector<array> ops;
        for (auto h : operands) {
          if (!is_array(h)) throw nb::type_error("[einsum] Operands must be arrays.");
          ops.push_back(nb::cast<array>(h));
        }
        return einsum(subscripts, ops, s);
      },
      "subscripts"_a, "operands"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def("einsum_path", [](const std::string& subscripts, nb::args operands) {
    std::vector<array> ops;
    for (auto h : operands) ops.push_back(nb::cast<array>(h));
    auto [path, info] = einsum_path(subscripts, ops);
    nb::list steps;
    for (auto& p : path) {
      nb::list step;
      for (int i : p) step.append(i);
      steps.append(nb::tuple(step));
    }
    return nb::make_tuple(steps, info);
  });
}

}  // namespace lmx::py
