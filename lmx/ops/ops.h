// The public op surface. Ops validate their arguments, infer shape and dtype
// and add a node to the graph; they never compute.
#pragma once

#include <optional>
#include <utility>

#include "lmx/array.h"
#include "lmx/ops/utils.h"

namespace lmx {

using S = StreamOrDevice;

// ---- creation (ops/creation.cpp) ----
array arange(double start, double stop, double step, Dtype dtype, S s = {});
array linspace(double start, double stop, int num = 50, bool endpoint = true, Dtype dtype = float32, S s = {});
array full(Shape shape, const array& value, Dtype dtype, S s = {});
array full(Shape shape, const array& value, S s = {});
array zeros(const Shape& shape, Dtype dtype = float32, S s = {});
array ones(const Shape& shape, Dtype dtype = float32, S s = {});
array zeros_like(const array& a, std::optional<Dtype> dtype = {}, S s = {});
array ones_like(const array& a, std::optional<Dtype> dtype = {}, S s = {});
array full_like(const array& a, const array& value, std::optional<Dtype> dtype = {}, S s = {});
array eye(int n, int m, int k, Dtype dtype = float32, S s = {});
array identity(int n, Dtype dtype = float32, S s = {});
array tri(int n, int m, int k, Dtype dtype = float32, S s = {});
array tril(const array& a, int k = 0, S s = {});
array triu(const array& a, int k = 0, S s = {});
std::vector<array> meshgrid(const std::vector<array>& arrays, bool sparse = false,
                            const std::string& indexing = "xy", S s = {});
array copy(const array& a, S s = {});
array astype(const array& a, Dtype dtype, S s = {});
array view(const array& a, Dtype dtype, S s = {});
array contiguous(const array& a, bool allow_col_major = false, S s = {});
array as_strided(const array& a, Shape shape, Strides strides, int64_t offset = 0, S s = {});

// ---- elementwise (ops/elementwise.cpp) ----
#define LMX_DECLARE_UNARY_OP(fn) array fn(const array& a, S s = {});
LMX_DECLARE_UNARY_OP(abs) LMX_DECLARE_UNARY_OP(sign) LMX_DECLARE_UNARY_OP(negative)
LMX_DECLARE_UNARY_OP(square) LMX_DECLARE_UNARY_OP(sqrt) LMX_DECLARE_UNARY_OP(rsqrt)
LMX_DECLARE_UNARY_OP(reciprocal) LMX_DECLARE_UNARY_OP(exp) LMX_DECLARE_UNARY_OP(expm1)
LMX_DECLARE_UNARY_OP(log) LMX_DECLARE_UNARY_OP(log2) LMX_DECLARE_UNARY_OP(log10)
LMX_DECLARE_UNARY_OP(log1p) LMX_DECLARE_UNARY_OP(sin) LMX_DECLARE_UNARY_OP(cos)
LMX_DECLARE_UNARY_OP(tan) LMX_DECLARE_UNARY_OP(arcsin) LMX_DECLARE_UNARY_OP(arccos)
LMX_DECLARE_UNARY_OP(arctan) LMX_DECLARE_UNARY_OP(sinh) LMX_DECLARE_UNARY_OP(cosh)
LMX_DECLARE_UNARY_OP(tanh) LMX_DECLARE_UNARY_OP(arcsinh) LMX_DECLARE_UNARY_OP(arccosh)
LMX_DECLARE_UNARY_OP(arctanh) LMX_DECLARE_UNARY_OP(erf) LMX_DECLARE_UNARY_OP(erfinv)
LMX_DECLARE_UNARY_OP(sigmoid) LMX_DECLARE_UNARY_OP(floor) LMX_DECLARE_UNARY_OP(ceil)
LMX_DECLARE_UNARY_OP(logical_not) LMX_DECLARE_UNARY_OP(bitwise_invert)
LMX_DECLARE_UNARY_OP(isnan) LMX_DECLARE_UNARY_OP(isinf) LMX_DECLARE_UNARY_OP(isfinite)
LMX_DECLARE_UNARY_OP(isposinf) LMX_DECLARE_UNARY_OP(isneginf) LMX_DECLARE_UNARY_OP(real)
LMX_DECLARE_UNARY_OP(imag) LMX_DECLARE_UNARY_OP(conjugate) LMX_DECLARE_UNARY_OP(stop_gradient)
LMX_DECLARE_UNARY_OP(degrees) LMX_DECLARE_UNARY_OP(radians)
#undef LMX_DECLARE_UNARY_OP
array round(const array& a, int decimals = 0, S s = {});
array nan_to_num(const array& a, float nan = 0.0f, std::optional<float> posinf = {},
                 std::optional<float> neginf = {}, S s = {});

#define LMX_DECLARE_BINARY_OP(fn) array fn(const array& a, const array& b, S s = {});
LMX_DECLARE_BINARY_OP(add) LMX_DECLARE_BINARY_OP(subtract) LMX_DECLARE_BINARY_OP(multiply)
LMX_DECLARE_BINARY_OP(divide) LMX_DECLARE_BINARY_OP(floor_divide) LMX_DECLARE_BINARY_OP(remainder)
LMX_DECLARE_BINARY_OP(power) LMX_DECLARE_BINARY_OP(maximum) LMX_DECLARE_BINARY_OP(minimum)
LMX_DECLARE_BINARY_OP(arctan2) LMX_DECLARE_BINARY_OP(logaddexp) LMX_DECLARE_BINARY_OP(equal)
LMX_DECLARE_BINARY_OP(not_equal) LMX_DECLARE_BINARY_OP(less) LMX_DECLARE_BINARY_OP(less_equal)
LMX_DECLARE_BINARY_OP(greater) LMX_DECLARE_BINARY_OP(greater_equal)
LMX_DECLARE_BINARY_OP(logical_and) LMX_DECLARE_BINARY_OP(logical_or) LMX_DECLARE_BINARY_OP(logical_xor)
LMX_DECLARE_BINARY_OP(bitwise_and) LMX_DECLARE_BINARY_OP(bitwise_or) LMX_DECLARE_BINARY_OP(bitwise_xor)
LMX_DECLARE_BINARY_OP(left_shift) LMX_DECLARE_BINARY_OP(right_shift)
#undef LMX_DECLARE_BINARY_OP
std::pair<array, array> divmod(const array& a, const array& b, S s = {});
array where(const array& cond, const array& x, const array& y, S s = {});
array clip(const array& a, const std::optional<array>& lo, const std::optional<array>& hi, S s = {});
array isclose(const array& a, const array& b, double rtol = 1e-5, double atol = 1e-8,
              bool equal_nan = false, S s = {});
array allclose(const array& a, const array& b, double rtol = 1e-5, double atol = 1e-8,
               bool equal_nan = false, S s = {});
array array_equal(const array& a, const array& b, bool equal_nan = false, S s = {});
Dtype result_type(const std::vector<array>& arrays);

// ---- reductions (ops/reduce.cpp); empty axes means all axes ----
array sum(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array prod(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array max(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array min(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array all(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array any(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array mean(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array var(const array& a, const std::vector<int>& axes, bool keepdims = false, int ddof = 0, S s = {});
array std(const array& a, const std::vector<int>& axes, bool keepdims = false, int ddof = 0, S s = {});
array logsumexp(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array softmax(const array& a, const std::vector<int>& axes, bool precise = false, S s = {});
array count_nonzero(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
// axis empty: over the flattened array.
array argmax(const array& a, std::optional<int> axis, bool keepdims = false, S s = {});
array argmin(const array& a, std::optional<int> axis, bool keepdims = false, S s = {});

// ---- shape (ops/shape.cpp) ----
array reshape(const array& a, Shape shape, S s = {});
array flatten(const array& a, int start_axis = 0, int end_axis = -1, S s = {});
array unflatten(const array& a, int axis, Shape shape, S s = {});
array squeeze(const array& a, const std::vector<int>& axes, S s = {});
array squeeze(const array& a, S s = {});
array expand_dims(const array& a, const std::vector<int>& axes, S s = {});
array transpose(const array& a, std::vector<int> axes, S s = {});
array transpose(const array& a, S s = {});
array swapaxes(const array& a, int axis1, int axis2, S s = {});
array moveaxis(const array& a, int source, int destination, S s = {});
array broadcast_to(const array& a, const Shape& shape, S s = {});
std::vector<array> broadcast_arrays(const std::vector<array>& arrays, S s = {});
array concatenate(const std::vector<array>& arrays, std::optional<int> axis = 0, S s = {});
array stack(const std::vector<array>& arrays, int axis = 0, S s = {});
std::vector<array> unstack(const array& a, int axis = 0, S s = {});
std::vector<array> split(const array& a, int num_splits, int axis = 0, S s = {});
std::vector<array> split(const array& a, const Shape& indices, int axis = 0, S s = {});
array repeat(const array& a, int repeats, std::optional<int> axis = {}, S s = {});
array tile(const array& a, std::vector<int> reps, S s = {});
array pad(const array& a, const std::vector<std::pair<int, int>>& widths, const array& value,
          const std::string& mode = "constant", S s = {});
array flip(const array& a, const std::vector<int>& axes, S s = {});
array roll(const array& a, const Shape& shift, const std::vector<int>& axes, S s = {});
array roll(const array& a, int shift, S s = {});
array atleast_1d(const array& a, S s = {});
array atleast_2d(const array& a, S s = {});
array atleast_3d(const array& a, S s = {});
array diagonal(const array& a, int offset = 0, int axis1 = 0, int axis2 = 1, S s = {});
array diag(const array& a, int k = 0, S s = {});
array trace(const array& a, int offset = 0, int axis1 = 0, int axis2 = 1, std::optional<Dtype> dtype = {}, S s = {});
// Python-style window: start/stop/step per axis (already clamped and normalised).
array slice(const array& a, Shape start, Shape stop, Shape strides, S s = {});
array slice_update(const array& src, const array& update, Shape start, Shape stop, Shape strides, S s = {});

// ---- indexing with integer arrays (ops/index.cpp) ----
enum class ScatterMode;
// Gather: the result has the (broadcast) indices' shape, then a's other axes.
array gather(const array& a, const std::vector<array>& indices, const std::vector<int>& axes, S s = {});
// Scatter: combines updates (broadcast to the gathered shape) into a.
array scatter(const array& a, const std::vector<array>& indices, const array& updates,
              const std::vector<int>& axes, ScatterMode mode, S s = {});
array take(const array& a, const array& indices, std::optional<int> axis = {}, S s = {});
array take_along_axis(const array& a, const array& indices, std::optional<int> axis = {}, S s = {});
array put_along_axis(const array& a, const array& indices, const array& values, std::optional<int> axis = {},
                     S s = {});
// put_along_axis with any scatter mode (Add sums values sent to one position:
// the gradients of ops that pick elements along an axis). Not in MLX's API.
array scatter_along_axis(const array& a, const array& indices, const array& values, std::optional<int> axis,
                         ScatterMode mode, S s = {});

// ---- sorting and scans along one axis (ops/sort.cpp); no axis: flattened ----
array sort(const array& a, std::optional<int> axis = -1, S s = {});
array argsort(const array& a, std::optional<int> axis = -1, S s = {});
array partition(const array& a, int kth, std::optional<int> axis = -1, S s = {});
array argpartition(const array& a, int kth, std::optional<int> axis = -1, S s = {});
array topk(const array& a, int k, std::optional<int> axis = -1, S s = {});
array cumsum(const array& a, std::optional<int> axis = {}, bool reverse = false, bool inclusive = true,
             std::optional<Dtype> dtype = {}, S s = {});
array cumprod(const array& a, std::optional<int> axis = {}, bool reverse = false, bool inclusive = true,
              std::optional<Dtype> dtype = {}, S s = {});
array cummax(const array& a, std::optional<int> axis = {}, bool reverse = false, bool inclusive = true, S s = {});
array cummin(const array& a, std::optional<int> axis = {}, bool reverse = false, bool inclusive = true, S s = {});
array logcumsumexp(const array& a, std::optional<int> axis = {}, bool reverse = false, bool inclusive = true,
                   S s = {});

// Middle of the sorted values over axes (empty: all), NaN if any is NaN.
array median(const array& a, const std::vector<int>& axes = {}, bool keepdims = false, S s = {});
array diff(const array& a, int n = 1, int axis = -1, S s = {});
// Insertion points of v in the sorted 1-D a (uint32).
array searchsorted(const array& a, const array& v, const std::string& side = "left", S s = {});

// The sorted unique values of the flattened array in `size` slots (padded
// with fill_value, by default the smallest value), then on request the first
// occurrence of each (uint32), the slot of each input element (uint32, a's
// shape) and the counts (int32).
std::vector<array> unique(const array& a, int size, bool return_index = false, bool return_inverse = false,
                          bool return_counts = false, const std::optional<array>& fill_value = {}, S s = {});

// ---- matrix products (ops/matmul.cpp) ----
array matmul(const array& a, const array& b, S s = {});
array addmm(const array& c, const array& a, const array& b, float alpha = 1.0f, float beta = 1.0f, S s = {});
array tensordot(const array& a, const array& b, const std::vector<int>& axes_a, const std::vector<int>& axes_b,
                S s = {});
array tensordot(const array& a, const array& b, int axes = 2, S s = {});
array inner(const array& a, const array& b, S s = {});
array outer(const array& a, const array& b, S s = {});
array kron(const array& a, const array& b, S s = {});
array vecdot(const array& a, const array& b, int axis = -1, S s = {});
// a[lhs_indices] @ b[rhs_indices], the indices selecting over the flattened batch dims.
array gather_mm(const array& a, const array& b, const std::optional<array>& lhs_indices,
                const std::optional<array>& rhs_indices, S s = {});
// out[i] = a[:, start_i:end_i] @ b[start_i:end_i, :] for segments (..., 2).
array segmented_mm(const array& a, const array& b, const array& segments, S s = {});
array block_masked_mm(const array& a, const array& b, int block_size, const std::optional<array>& mask_out,
                      const std::optional<array>& mask_lhs, const std::optional<array>& mask_rhs, S s = {});
array hadamard_transform(const array& a, std::optional<float> scale = {}, S s = {});
array einsum(const std::string& subscripts, const std::vector<array>& operands, S s = {});
// The contraction order einsum uses: pairs of operand positions per step, and a description.
std::pair<std::vector<std::vector<int>>, std::string> einsum_path(const std::string& subscripts,
                                                                  const std::vector<array>& operands);

// ---- convolution, channels-last (ops/conv.cpp) ----
array conv_general(const array& input, const array& weight, std::vector<int> stride, std::vector<int> pad_lo,
                   std::vector<int> pad_hi, std::vector<int> kernel_dilation, std::vector<int> input_dilation,
                   int groups = 1, bool flip = false, S s = {});
// conv1d/2d/3d: nd spatial dims, symmetric padding.
array conv_nd(const array& input, const array& weight, int nd, const std::vector<int>& stride,
              const std::vector<int>& padding, const std::vector<int>& dilation, int groups = 1, S s = {});
array conv_transpose_nd(const array& input, const array& weight, int nd, std::vector<int> stride,
                        std::vector<int> padding, std::vector<int> dilation, std::vector<int> output_padding,
                        int groups = 1, S s = {});
array convolve(const array& a, const array& v, const std::string& mode = "full", S s = {});

}  // namespace lmx
