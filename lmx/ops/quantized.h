// Quantisation: MLX's affine mode (bits 1-6 and 8, group size 32/64/128),
// bit-compatible with MLX's packing and rounding so MLX-quantised weights
// load unchanged; its floating-point block modes mxfp4, mxfp8 and nvfp4
// (MLX's packing; rounding to nearest even, as MLX's GPU kernels do); and the
// matrix products that read quantised weights.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lmx/array.h"
#include "lmx/ops/utils.h"

namespace lmx {

enum class FpMode : uint8_t;

// The resolved parameters of a quantisation (defaults filled in, checked).
struct QuantSpec {
  int group_size;
  int bits;
  std::optional<FpMode> fp;  // empty: the affine mode
};

// Validates `mode` and fills the defaults (affine: group 64, bits 4; the fp
// modes have one group size and width each); `op` names the caller in errors.
QuantSpec quant_spec(std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                     const std::string& op);

// w (..., K) with K divisible by group_size. Affine: {w_q (..., K*bits/32)
// uint32, scales (..., K/group_size), biases} with scales and biases in w's
// dtype. fp modes: {w_q, scales (uint8)}. `global_scale` (nvfp4 only, a
// float32 scalar: the tensor's largest magnitude) widens nvfp4's range.
std::vector<array> quantize(const array& w, std::optional<int> group_size = {}, std::optional<int> bits = {},
                            const std::string& mode = "affine", const std::optional<array>& global_scale = {},
                            StreamOrDevice s = {});

// Affine: scales * q + biases, in `dtype` (default: the scales' dtype). fp
// modes: the decoded values (default dtype bfloat16), biases must be absent.
array dequantize(const array& w, const array& scales, const std::optional<array>& biases,
                 std::optional<int> group_size = {}, std::optional<int> bits = {}, const std::string& mode = "affine",
                 const std::optional<array>& global_scale = {}, std::optional<Dtype> dtype = {},
                 StreamOrDevice s = {});

// x @ dequantize(w).T (transpose) or x @ dequantize(w), batch dims broadcast.
array quantized_matmul(const array& x, const array& w, const array& scales, const std::optional<array>& biases,
                       bool transpose = true, std::optional<int> group_size = {}, std::optional<int> bits = {},
                       const std::string& mode = "affine", StreamOrDevice s = {});

// quantized_matmul with x's and w's matrices selected by index arrays (the
// batch dims of each are flattened into one axis of matrices).
array gather_qmm(const array& x, const array& w, const array& scales, const std::optional<array>& biases,
                 const std::optional<array>& lhs_indices, const std::optional<array>& rhs_indices,
                 bool transpose = true, std::optional<int> group_size = {}, std::optional<int> bits = {},
                 const std::string& mode = "affine", bool sorted_indices = false, StreamOrDevice s = {});

// x @ w.T with x quantised on the fly in an fp mode and w either quantised
// (w_q uint32 with `scales`) or quantised on the fly (floating w, no
// scales): dequantize(quantize(x)) @ dequantize(w).T in x's dtype. nvfp4
// takes both global scales or neither. Gradients reach x and a floating w
// straight through the rounding.
array qqmm(const array& x, const array& w, const std::optional<array>& scales = {},
           std::optional<int> group_size = {}, std::optional<int> bits = {}, const std::string& mode = "nvfp4",
           const std::optional<array>& global_scale_x = {}, const std::optional<array>& global_scale_w = {},
           StreamOrDevice s = {});

// qqmm with x's and w's matrices selected by index arrays, as gather_qmm.
array gather_qqmm(const array& x, const array& w, const std::optional<array>& scales = {},
                  const std::optional<array>& lhs_indices = {}, const std::optional<array>& rhs_indices = {},
                  std::optional<int> group_size = {}, std::optional<int> bits = {}, const std::string& mode = "nvfp4",
                  const std::optional<array>& global_scale_x = {}, const std::optional<array>& global_scale_w = {},
                  bool sorted_indices = false, StreamOrDevice s = {});

// fp8 (e4m3) as uint8, and back (default bfloat16).
array to_fp8(const array& x, StreamOrDevice s = {});
array from_fp8(const array& x, Dtype dtype = bfloat16, StreamOrDevice s = {});

}  // namespace lmx
