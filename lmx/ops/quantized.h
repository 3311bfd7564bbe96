// Quantisation: MLX's affine mode (bits 1-6 and 8, group size 32/64/128),
// bit-compatible with MLX's packing and rounding so MLX-quantised weights
// load unchanged, and the matrix products that read quantised weights.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lmx/array.h"
#include "lmx/ops/utils.h"

namespace lmx {

// The resolved parameters of a quantisation (defaults filled in, checked).
struct QuantSpec {
  int group_size;
  int bits;
};

// Validates `mode` and fills the defaults (affine: group 64, bits 4); `op`
// names the caller in errors. Only the affine mode exists in lmx so far.
QuantSpec quant_spec(std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                     const std::string& op);

// w (..., K) with K divisible by group_size -> {w_q (..., K*bits/32) uint32,
// scales (..., K/group_size), biases (..., K/group_size)} in w's dtype.
std::vector<array> quantize(const array& w, std::optional<int> group_size = {}, std::optional<int> bits = {},
                            const std::string& mode = "affine", StreamOrDevice s = {});

// scales * q + biases, in `dtype` (default: the scales' dtype).
array dequantize(const array& w, const array& scales, const std::optional<array>& biases,
                 std::optional<int> group_size = {}, std::optional<int> bits = {}, const std::string& mode = "affine",
                 std::optional<Dtype> dtype = {}, StreamOrDevice s = {});

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

// fp8 (e4m3) as uint8, and back (default bfloat16).
array to_fp8(const array& x, StreamOrDevice s = {});
array from_fp8(const array& x, Dtype dtype = bfloat16, StreamOrDevice s = {});

}  // namespace lmx
