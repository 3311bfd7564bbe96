// Bindings of mx.fast (lmx/fast/fast.h), a submodule of lmx.core.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>

#include "convert.h"
#include "lmx/fast/fast.h"

namespace lmx::py {

using namespace nb::literals;
using OptArray = std::optional<array>;

void init_fast(nb::module_& parent) {
  nb::module_ m = parent.def_submodule("fast", "Fused operations for transformer models.");
  m.def(
      "rms_norm", [](const array& x, OptArray weight, float eps, S s) { return fast::rms_norm(x, weight, eps, s); },
      "x"_a, "weight"_a.none(), "eps"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def(
      "layer_norm",
      [](const array& x, OptArray weight, OptArray bias, float eps, S s) {
        return fast::layer_norm(x, weight, bias, eps, s);
      },
      "x"_a, "weight"_a.none(), "bias"_a.none(), "eps"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def(
      "rope",
      [](const array& a, int dims, bool traditional, std::optional<float> base, float scale, nb::handle offset,
         OptArray freqs, S s) {
        array off = PyLong_Check(offset.ptr()) ? array(nb::cast<int>(offset)) : nb::cast<array>(offset);
        return fast::rope(a, dims, traditional, base, scale, off, freqs, s);
      },
      "a"_a, "dims"_a, nb::kw_only(), "traditional"_a, "base"_a.none(), "scale"_a, "offset"_a,
      "freqs"_a = nb::none(), "stream"_a = nb::none());
  m.def(
      "scaled_dot_product_attention",
      [](const array& q, const array& k, const array& v, float scale, nb::handle mask, OptArray sinks,
         bool force_fused, S s) {
        if (mask.is_none()) return fast::scaled_dot_product_attention(q, k, v, scale, "", {}, sinks, s);
        if (PyUnicode_Check(mask.ptr()))
          return fast::scaled_dot_product_attention(q, k, v, scale, nb::cast<std::string>(mask), {}, sinks, s);
        return fast::scaled_dot_product_attention(q, k, v, scale, "array", to_array(mask), sinks, s);
      },
      "q"_a, "k"_a, "v"_a, nb::kw_only(), "scale"_a, "mask"_a = nb::none(), "sinks"_a = nb::none(),
      "force_fused"_a = false, "stream"_a = nb::none());
}

}  // namespace lmx::py
