// Bindings of sorting, selection and scans (lmx/ops/sort.cpp).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include "convert.h"

namespace lmx::py {

using namespace nb::literals;
using A = ArrayLike;

void init_sort(nb::module_& m) {
  m.def("sort", [](const array& a, std::optional<int> axis, S s) { return sort(a, axis, s); }, "a"_a,
        "axis"_a.none() = -1, nb::kw_only(), "stream"_a = nb::none());
  m.def("argsort", [](const array& a, std::optional<int> axis, S s) { return argsort(a, axis, s); }, "a"_a,
        "axis"_a.none() = -1, nb::kw_only(), "stream"_a = nb::none());
  m.def("partition", [](const array& a, int kth, std::optional<int> axis, S s) { return partition(a, kth, axis, s); },
        "a"_a, "kth"_a, "axis"_a.none() = -1, nb::kw_only(), "stream"_a = nb::none());
  m.def("argpartition",
        [](const array& a, int kth, std::optional<int> axis, S s) { return argpartition(a, kth, axis, s); }, "a"_a,
        "kth"_a, "axis"_a.none() = -1, nb::kw_only(), "stream"_a = nb::none());
  m.def("topk", [](const array& a, int k, std::optional<int> axis, S s) { return topk(a, k, axis, s); }, "a"_a, "k"_a,
        "axis"_a.none() = -1, nb::kw_only(), "stream"_a = nb::none());
  m.def("cumsum",
        [](const A& a, std::optional<int> axis, bool reverse, bool inclusive, std::optional<Dtype> dtype, S s) {
          return cumsum(a, axis, reverse, inclusive, dtype, s);
        },
        "a"_a, "axis"_a = nb::none(), nb::kw_only(), "reverse"_a = false, "inclusive"_a = true,
        "dtype"_a = nb::none(), "stream"_a = nb::none());
  m.def("cumprod",
        [](const A& a, std::optional<int> axis, bool reverse, bool inclusive, std::optional<Dtype> dtype, S s) {
          return cumprod(a, axis, reverse, inclusive, dtype, s);
        },
        "a"_a, "axis"_a = nb::none(), nb::kw_only(), "reverse"_a = false, "inclusive"_a = true,
        "dtype"_a = nb::none(), "stream"_a = nb::none());
#define LMX_BIND_SCAN(fn)                                                                                   \
  m.def(#fn,                                                                                                \
        [](const A& a, std::optional<int> axis, bool reverse, bool inclusive, S s) {                        \
          return fn(a, axis, reverse, inclusive, s);                                                        \
        },                                                                                                  \
        "a"_a, "axis"_a = nb::none(), nb::kw_only(), "reverse"_a = false, "inclusive"_a = true,            \
        "stream"_a = nb::none());
  LMX_BIND_SCAN(cummax)
  LMX_BIND_SCAN(cummin)
  LMX_BIND_SCAN(logcumsumexp)
#undef LMX_BIND_SCAN
  m.def(
      "median",
      [](const A& a, nb::handle axis, bool keepdims, S s) {
        std::vector<int> axes;
        if (PyLong_Check(axis.ptr())) axes = {nb::cast<int>(axis)};
        else if (!axis.is_none()) axes = nb::cast<std::vector<int>>(axis);
        return median(a, axes, keepdims, s);
      },
      "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, nb::kw_only(), "stream"_a = nb::none());
  m.def(
      "unique",
      [](const array& a, int size, bool ri, bool rv, bool rc, nb::handle fill, S s) -> nb::object {
        std::optional<array> f;
        if (!fill.is_none()) f = is_array(fill) ? nb::cast<array>(fill) : to_array(fill);
        auto r = unique(a, size, ri, rv, rc, f, s);
        if (r.size() == 1) return nb::cast(r[0]);
        nb::list l;
        for (auto& x : r) l.append(nb::cast(x));
        return nb::tuple(l);
      },
      "a"_a, "size"_a, "return_index"_a = false, "return_inverse"_a = false, "return_counts"_a = false,
      "fill_value"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def("diff", [](const A& a, int n, int axis, S s) { return diff(a, n, axis, s); }, "a"_a, "n"_a = 1,
        "axis"_a = -1, nb::kw_only(), "stream"_a = nb::none());
  m.def("searchsorted",
        [](const array& a, const array& v, const std::string& side, S s) { return searchsorted(a, v, side, s); },
        "sorted_sequence"_a, "values"_a, "side"_a = "left", nb::kw_only(), "stream"_a = nb::none());
}

}  // namespace lmx::py
