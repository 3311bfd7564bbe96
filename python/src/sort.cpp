// Bindings of sorting, selection and scans (lmx/ops/sort.cpp).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/variant.h>

#include "convert.h"

namespace lmx::py {

using namespace nb::literals;
using A = ArrayLike;

void init_sort(nb::module_& m) {
  m.def("sort", [](const A& a, std::optional<int> axis, S s) { return sort(a, axis, s); }, "a"_a,
        "axis"_a.none() = -1, nb::kw_only(), "stream"_a = nb::none());
  m.def("argsort", [](const A& a, std::optional<int> axis, S s) { return argsort(a, axis, s); }, "a"_a,
        "axis"_a.none() = -1, nb::kw_only(), "stream"_a = nb::none());
  m.def("partition", [](const A& a, int kth, std::optional<int> axis, S s) { return partition(a, kth, axis, s); },
        "a"_a, "kth"_a, "axis"_a.none() = -1, nb::kw_only(), "stream"_a = nb::none());
  m.def("argpartition",
        [](const A& a, int kth, std::optional<int> axis, S s) { return argpartition(a, kth, axis, s); }, "a"_a,
        "kth"_a, "axis"_a.none() = -1, nb::kw_only(), "stream"_a = nb::none());
  m.def("topk", [](const A& a, int k, std::optional<int> axis, S s) { return topk(a, k, axis, s); }, "a"_a, "k"_a,
        "axis"_a.none() = -1, nb::kw_only(), "stream"_a = nb::none());
  m.def("cumsum",
        [](const A& a, std::optional<int> axis, bool reverse, bool inclusive, std::optional<Dtype> dtype, S s) {
          return cumsum(a, axis, reverse, inclusive, dtype, s);
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
  LMX_BIND_SCAN(cumprod)
  LMX_BIND_SCAN(cummax)
  LMX_BIND_SCAN(cummin)
  LMX_BIND_SCAN(logcumsumexp)
#undef LMX_BIND_SCAN
}

}  // namespace lmx::py
