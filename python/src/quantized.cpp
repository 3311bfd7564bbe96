// Bindings of quantisation (lmx/ops/quantized.h).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include "convert.h"

namespace lmx::py {

using namespace nb::literals;
using OptInt = std::optional<int>;
using OptArray = std::optional<array>;

void init_quantized(nb::module_& m) {
  m.def(
      "quantize",
      [](const array& w, OptInt group_size, OptInt bits, const std::string& mode, OptArray global_scale, S s) {
        auto out = quantize(w, group_size, bits, mode, global_scale, s);
        // The affine mode has biases; the fp modes do not.
        return out.size() == 3 ? nb::make_tuple(out[0], out[1], out[2]) : nb::make_tuple(out[0], out[1]);
      },
      "w"_a, "group_size"_a = nb::none(), "bits"_a = nb::none(), "mode"_a = "affine",
      nb::kw_only(), "global_scale"_a = nb::none(), "stream"_a = nb::none());
  m.def(
      "dequantize",
      [](const array& w, const array& scales, OptArray biases, OptInt group_size, OptInt bits,
         const std::string& mode, OptArray global_scale, std::optional<Dtype> dtype, S s) {
        return dequantize(w, scales, biases, group_size, bits, mode, global_scale, dtype, s);
      },
      "w"_a, "scales"_a, "biases"_a = nb::none(), "group_size"_a = nb::none(), "bits"_a = nb::none(),
      "mode"_a = "affine", "global_scale"_a = nb::none(), "dtype"_a = nb::none(), nb::kw_only(),
      "stream"_a = nb::none());
  m.def(
      "quantized_matmul",
      [](const array& x, const array& w, const array& scales, OptArray biases, bool transpose, OptInt group_size,
         OptInt bits, const std::string& mode, S s) {
        return quantized_matmul(x, w, scales, biases, transpose, group_size, bits, mode, s);
      },
      "x"_a, "w"_a, "scales"_a, "biases"_a = nb::none(), "transpose"_a = true,
      "group_size"_a = nb::none(), "bits"_a = nb::none(), "mode"_a = "affine", nb::kw_only(), "stream"_a = nb::none());
  m.def("to_fp8", [](const array& x, S s) { return to_fp8(x, s); }, "x"_a, nb::kw_only(), "stream"_a = nb::none());
  m.def(
      "from_fp8", [](const array& x, Dtype dtype, S s) { return from_fp8(x, dtype, s); }, "x"_a,
      "dtype"_a = bfloat16, nb::kw_only(), "stream"_a = nb::none());
  m.def(
      "gather_qmm",
      [](const array& x, const array& w, const array& scales, OptArray biases, OptArray lhs, OptArray rhs,
         bool transpose, OptInt group_size, OptInt bits, const std::string& mode, OptArray global_scale,
         bool sorted_indices, S s) {
        if (global_scale)  // per-matrix nvfp4 global scales
          throw std::invalid_argument("[gather_qmm] lmx does not support global_scale here; dequantize each "
                                      "matrix with its global scale, or use gather_qqmm.");
        return gather_qmm(x, w, scales, biases, lhs, rhs, transpose, group_size, bits, mode, sorted_indices, s);
      },
      "x"_a, "w"_a, "scales"_a, "biases"_a = nb::none(), "lhs_indices"_a = nb::none(),
      "rhs_indices"_a = nb::none(), "transpose"_a = true, "group_size"_a = nb::none(), "bits"_a = nb::none(),
      "mode"_a = "affine", "global_scale"_a = nb::none(), nb::kw_only(), "sorted_indices"_a = false,
      "stream"_a = nb::none());
  m.def(
      "qqmm",
      [](const array& x, const array& w, OptArray scales, OptInt group_size, OptInt bits, const std::string& mode,
         OptArray global_scale_x, OptArray global_scale_w, S s) {
        return qqmm(x, w, scales, group_size, bits, mode, global_scale_x, global_scale_w, s);
      },
      "x"_a, "w"_a, "scales"_a = nb::none(), "group_size"_a = nb::none(), "bits"_a = nb::none(),
      "mode"_a = "nvfp4", "global_scale_x"_a = nb::none(), "global_scale_w"_a = nb::none(), nb::kw_only(),
      "stream"_a = nb::none());
  m.def(
      "gather_qqmm",
      [](const array& x, const array& w, OptArray scales, OptArray lhs, OptArray rhs, OptInt group_size, OptInt bits,
         const std::string& mode, OptArray global_scale_x, OptArray global_scale_w, bool sorted_indices, S s) {
        return gather_qqmm(x, w, scales, lhs, rhs, group_size, bits, mode, global_scale_x, global_scale_w,
                           sorted_indices, s);
      },
      "x"_a, "w"_a, "scales"_a = nb::none(), "lhs_indices"_a = nb::none(), "rhs_indices"_a = nb::none(),
      "group_size"_a = nb::none(), "bits"_a = nb::none(), "mode"_a = "nvfp4", "global_scale_x"_a = nb::none(),
      "global_scale_w"_a = nb::none(), nb::kw_only(), "sorted_indices"_a = false, "stream"_a = nb::none());
}

}  // namespace lmx::py
