// Bindings of the convolutions (lmx/ops/conv.cpp).
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include "convert.h"

namespace lmx::py {

using namespace nb::literals;

namespace {
// An int or a sequence of ints.
std::vector<int> ints(nb::handle h) {
  if (PyLong_Check(h.ptr())) return {nb::cast<int>(h)};
  return nb::cast<std::vector<int>>(h);
}
}  // namespace

void init_conv(nb::module_& m) {
  for (int nd = 1; nd <= 3; ++nd) {
    std::string name = "conv" + std::to_string(nd) + "d";
    m.def(
        name.c_str(),
        [nd](const array& x, const array& w, nb::handle stride, nb::handle padding, nb::handle dilation, int groups,
             S s) { return conv_nd(x, w, nd, ints(stride), ints(padding), ints(dilation), groups, s); },
        "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "groups"_a = 1, nb::kw_only(),
        "stream"_a = nb::none());
    std::string tname = "conv_transpose" + std::to_string(nd) + "d";
    m.def(
        tname.c_str(),
        [nd](const array& x, const array& w, nb::handle stride, nb::handle padding, nb::handle dilation,
             nb::handle output_padding, int groups, S s) {
          return conv_transpose_nd(x, w, nd, ints(stride), ints(padding), ints(dilation), ints(output_padding), groups,
                                   s);
        },
        "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "output_padding"_a = 0,
        "groups"_a = 1, nb::kw_only(), "stream"_a = nb::none());
  }
  m.def(
      "conv_general",
      [](const array& x, const array& w, nb::handle stride, nb::handle padding, nb::handle kdil, nb::handle idil,
         int groups, bool flip, S s) {
        std::vector<int> lo, hi;
        // padding: int, a sequence (symmetric), or a pair of sequences (low, high).
        if (PyTuple_Check(padding.ptr()) && nb::len(padding) == 2 && !PyLong_Check(padding[0].ptr())) {
          lo = ints(padding[0]), hi = ints(padding[1]);
        } else {
          lo = hi = ints(padding);
        }
        return conv_general(x, w, ints(stride), lo, hi, ints(kdil), ints(idil), groups, flip, s);
      },
      "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "kernel_dilation"_a = 1, "input_dilation"_a = 1,
      "groups"_a = 1, "flip"_a = false, nb::kw_only(), "stream"_a = nb::none());
  m.def("convolve", [](const array& a, const array& v, const std::string& mode, S s) { return convolve(a, v, mode, s); },
        "a"_a, "v"_a, "mode"_a = "full", nb::kw_only(), "stream"_a = nb::none());
}

}  // namespace lmx::py
