#include "lmx/ops/quantized.h"

#include <algorithm>
#include <stdexcept>

#include "lmx/ops/ops.h"
#include "lmx/primitives/quantized.h"

namespace lmx {

namespace {

std::string err(const std::string& op) { return "[" + op + "] "; }

// The unpacked length of a packed dimension of `cols` uint32 words.
ShapeElem unpacked(ShapeElem cols, int bits) { return cols * 32 / bits; }

// Checks w_q (uint32, >= 2-d) against scales (and biases: affine only) for
// a spec and returns the number of values per packed row.
ShapeElem check_packed(const array& w, const array& scales, const std::optional<array>& biases, QuantSpec q,
                       const std::string& op) {
  if (w.dtype() != uint32)
    throw std::invalid_argument(err(op) + "The weight matrix should be uint32 but received " + dtype_name(w.dtype()) +
                                ".");
  if (w.ndim() < 2)
    throw std::invalid_argument(err(op) + "The quantized matrix must have at least 2 dimensions, got " +
                                shape_string(w.shape()) + ".");
  if (q.fp) {
    if (biases)
      throw std::invalid_argument(err(op) + "Biases must be null for quantization mode '" + to_string(*q.fp) + "'.");
    if (scales.dtype() != uint8)
      throw std::invalid_argument(err(op) + "Scale type must be uint8 but received type " +
                                  dtype_name(scales.dtype()) + ".");
  } else {
    if (!biases) throw std::invalid_argument(err(op) + "Biases must be provided for affine quantization.");
    if (biases->shape() != scales.shape())
      throw std::invalid_argument(err(op) + "Scales and biases should have the same shape. Received scales with "
                                  "shape " + shape_string(scales.shape()) + " and biases with " +
                                  shape_string(biases->shape()) + ".");
    if (!is_floating_point(scales.dtype()) || !is_floating_point(biases->dtype()))
      throw std::invalid_argument(err(op) + "Scales and biases must be floating point.");
  }
  ShapeElem values = unpacked(w.shape(-1), q.bits);
  Shape expected = w.shape();
  expected.back() = values / q.group_size;
  if (values % q.group_size != 0 || scales.shape() != expected)
    throw std::invalid_argument(err(op) + "Shape of scales does not match the matrix given the "
                                "quantization parameters. Provided matrix of shape " + shape_string(w.shape()) +
                                " and scales of shape " + shape_string(scales.shape()) + " with group_size=" +
                                std::to_string(q.group_size) + " and bits=" + std::to_string(q.bits) + ".");
  return values;
}

// nvfp4's global scale: a float32 scalar, and only for that mode.
void check_global_scale(const std::optional<array>& g, const QuantSpec& q, const std::string& op) {
  if (!g) return;
  if (q.fp != FpMode::nvfp4)
    throw std::invalid_argument(err(op) + "Global scale is only supported for 'nvfp4' quantization mode.");
  if (g->dtype() != float32)
    throw std::invalid_argument(err(op) + "Global scale must have dtype float32 but got " + dtype_name(g->dtype()) +
                                ".");
  if (g->ndim() != 0)
    throw std::invalid_argument(err(op) + "Global scale must be a scalar but got shape " + shape_string(g->shape()) +
                                ".");
}

// Checks that the last axis of a matrix to quantise splits into groups.
void check_groups(const array& w, const QuantSpec& q, const std::string& op) {
  if (w.shape(-1) % q.group_size != 0)
    throw std::invalid_argument(err(op) + "The last dimension of the matrix needs to be divisible by the "
                                "quantization group size " + std::to_string(q.group_size) +
                                ". However the provided matrix has shape " + shape_string(w.shape()));
}

// The node's inputs: the operands, then the global scale when there is one.
std::vector<array> with_global(std::vector<array> inputs, const std::optional<array>& g) {
  if (g) inputs.push_back(*g);
  return inputs;
}

// dequantize(quantize(x)) in x's dtype, quantised along the last axis.
array fp_round_trip(const array& x, const QuantSpec& q, const std::optional<array>& g, StreamOrDevice s) {
  return array(x.shape(), x.dtype(), std::make_shared<FpRoundTrip>(to_stream(s), *q.fp, g.has_value()),
               with_global({x}, g));
}

// An operand's batch dims flattened into one axis of matrices, the ones
// `idx` selects taken (gather_qmm's and gather_qqmm's rule).
array gather_matrices(const array& a, const std::optional<array>& idx, StreamOrDevice s) {
  if (!idx) return a;
  ShapeElem count = 1;
  for (int d = 0; d < a.ndim() - 2; ++d) count *= a.shape(d);
  return take(reshape(a, {count, a.shape(-2), a.shape(-1)}, s), *idx, 0, s);
}

void check_gather_indices(const std::optional<array>& lhs, const std::optional<array>& rhs, const std::string& op) {
  for (const auto* idx : {&lhs, &rhs})
    if (*idx && (!is_integral((*idx)->dtype()) || (*idx)->dtype() == bool_))
      throw std::invalid_argument(err(op) + "Indices must be integers, got " + dtype_name((*idx)->dtype()) + ".");
  if (lhs && rhs) broadcast_shapes(lhs->shape(), rhs->shape(), op);
}

}  // namespace

QuantSpec quant_spec(std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                     const std::string& op) {
  for (FpMode m : {FpMode::mxfp4, FpMode::mxfp8, FpMode::nvfp4}) {
    if (mode != to_string(m)) continue;
    const int g = fp_group_size(m), b = fp_bits(m);
    if (group_size && *group_size != g)
      throw std::invalid_argument(err(op) + mode + " quantization requires group size " + std::to_string(g) +
                                  " but got " + std::to_string(*group_size) + ".");
    if (bits && *bits != b)
      throw std::invalid_argument(err(op) + mode + " quantization requires bits to be " + std::to_string(b) +
                                  " but got " + std::to_string(*bits) + ".");
    return {g, b, m};
  }
  if (mode != "affine") throw std::invalid_argument(err(op) + "Invalid quantization mode '" + mode + "'.");
  QuantSpec q{group_size.value_or(64), bits.value_or(4), std::nullopt};
  if (q.group_size != 32 && q.group_size != 64 && q.group_size != 128)
    throw std::invalid_argument(err(op) + "The requested group size " + std::to_string(q.group_size) +
                                " is not supported. The supported group sizes are 32, 64, and 128.");
  if (q.bits < 1 || q.bits > 8 || q.bits == 7)
    throw std::invalid_argument(err(op) + "The requested number of bits " + std::to_string(q.bits) +
                                " is not supported. The supported bits are 1, 2, 3, 4, 5, 6 and 8.");
  return q;
}

std::vector<array> quantize(const array& w, std::optional<int> group_size, std::optional<int> bits,
                            const std::string& mode, const std::optional<array>& global_scale, StreamOrDevice s) {
  QuantSpec q = quant_spec(group_size, bits, mode, "quantize");
  check_global_scale(global_scale, q, "quantize");
  if (w.ndim() < 2)
    throw std::invalid_argument("[quantize] The matrix to be quantized must have at least 2 dimension but it has only " +
                                std::to_string(w.ndim()) + ".");
  if (!is_floating_point(w.dtype()))
    throw std::invalid_argument("[quantize] Only real floating types can be quantized, got " +
                                dtype_name(w.dtype()) + ".");
  check_groups(w, q, "quantize");
  Shape packed = w.shape(), groups = w.shape();
  packed.back() = w.shape(-1) * q.bits / 32;
  groups.back() = w.shape(-1) / q.group_size;
  if (q.fp)
    return array::make_arrays({packed, groups}, {uint32, uint8},
                              std::make_shared<FpQuantize>(to_stream(s), *q.fp, global_scale.has_value()),
                              with_global({w}, global_scale));
  return array::make_arrays({packed, groups, groups}, {uint32, w.dtype(), w.dtype()},
                            std::make_shared<AffineQuantize>(to_stream(s), q.group_size, q.bits), {w});
}

array dequantize(const array& w, const array& scales, const std::optional<array>& biases,
                 std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                 const std::optional<array>& global_scale, std::optional<Dtype> dtype, StreamOrDevice s) {
  QuantSpec q = quant_spec(group_size, bits, mode, "dequantize");
  check_global_scale(global_scale, q, "dequantize");
  ShapeElem values = check_packed(w, scales, biases, q, "dequantize");
  // The fp modes' scales are codes, so their values default to bfloat16.
  Dtype out = dtype.value_or(q.fp ? bfloat16 : scales.dtype());
  if (!is_floating_point(out))
    throw std::invalid_argument("[dequantize] The output dtype must be floating point, got " + dtype_name(out) + ".");
  Shape shape = w.shape();
  shape.back() = values;
  if (q.fp)
    return array(shape, out, std::make_shared<FpDequantize>(to_stream(s), *q.fp, global_scale.has_value()),
                 with_global({w, scales}, global_scale));
  return array(shape, out, std::make_shared<AffineDequantize>(to_stream(s), q.group_size, q.bits),
               {w, scales, *biases});
}

array quantized_matmul(const array& x_in, const array& w, const array& scales, const std::optional<array>& biases,
                       bool transpose, std::optional<int> group_size, std::optional<int> bits,
                       const std::string& mode, StreamOrDevice s) {
  QuantSpec q = quant_spec(group_size, bits, mode, "quantized_matmul");
  ShapeElem values = check_packed(w, scales, biases, q, "quantized_matmul");
  if (x_in.ndim() == 0) throw std::invalid_argument("[quantized_matmul] x must have at least one dimension.");
  if (x_in.dtype() == bool_ || is_complex(x_in.dtype()))
    throw std::invalid_argument("[quantized_matmul] x must be real numbers, got " + dtype_name(x_in.dtype()) + ".");
  // The matrix w stands for: (N, K) = (rows, values) transposed, else (K, N).
  ShapeElem k = transpose ? values : w.shape(-2), n = transpose ? w.shape(-2) : values;
  if (x_in.shape(-1) != k)
    throw std::invalid_argument("[quantized_matmul] Last dimension of first input with shape (..., " +
                                std::to_string(x_in.shape(-1)) + ") does not match the expanded quantized matrix (" +
                                std::to_string(k) + ", " + std::to_string(n) + ") computed from shape " +
                                shape_string(w.shape()) + " with group_size=" + std::to_string(q.group_size) +
                                ", bits=" + std::to_string(q.bits) + " and transpose=" +
                                (transpose ? "true" : "false"));
  if (q.fp) {
    // The fp modes multiply the decoded matrix in x's dtype.
    if (!is_floating_point(x_in.dtype()))
      throw std::invalid_argument("[quantized_matmul] x must be floating point for the '" + mode + "' mode, got " +
                                  dtype_name(x_in.dtype()) + ".");
    array wd = dequantize(w, scales, std::nullopt, q.group_size, q.bits, mode, {}, x_in.dtype(), s);
    return matmul(x_in, transpose ? swapaxes(wd, -1, -2, s) : wd, s);
  }
  Dtype t = promote_types(x_in.dtype(), scales.dtype());
  if (!is_floating_point(t)) t = float32;
  auto make = [&](const array& x2, const array& w2, const array& s2, const array& b2, Shape shape) {
    return array(std::move(shape), t,
                 std::make_shared<QuantizedMatmul>(to_stream(s), q.group_size, q.bits, transpose), {x2, w2, s2, b2});
  };
  if (w.ndim() == 2 && x_in.ndim() >= 2) {
    // One weight matrix for every row of x: the primitive takes x as it is
    // (the backends fold its batch dims into rows), no reshape nodes.
    Shape out_shape(x_in.shape().begin(), x_in.shape().end() - 1);
    out_shape.push_back(n);
    return make(x_in, w, scales, *biases, out_shape);
  }
  array x = x_in.ndim() == 1 ? reshape(x_in, {1, x_in.shape(0)}, s) : x_in;
  Shape x_batch(x.shape().begin(), x.shape().end() - 2), w_batch(w.shape().begin(), w.shape().end() - 2);
  Shape batch = broadcast_shapes(x_batch, w_batch, "quantized_matmul");
  auto with_batch = [&](const array& a) {
    Shape full = batch;
    full.push_back(a.shape(-2));
    full.push_back(a.shape(-1));
    return a.shape() == full ? a : broadcast_to(a, full, s);
  };
  Shape out_shape = batch;
  out_shape.push_back(x.shape(-2));
  out_shape.push_back(n);
  array out = make(with_batch(x), with_batch(w), with_batch(scales), with_batch(*biases), out_shape);
  if (x_in.ndim() == 1) {
    Shape squeezed = batch;
    squeezed.push_back(n);
    out = reshape(out, squeezed, s);
  }
  return out;
}

array gather_qmm(const array& x, const array& w, const array& scales, const std::optional<array>& biases,
                 const std::optional<array>& lhs_indices, const std::optional<array>& rhs_indices, bool transpose,
                 std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                 bool sorted_indices, StreamOrDevice s) {
  quant_spec(group_size, bits, mode, "gather_qmm");
  if (x.ndim() < 2 || w.ndim() < 2)
    throw std::invalid_argument("[gather_qmm] x and w must have at least two dimensions.");
  check_gather_indices(lhs_indices, rhs_indices, "gather_qmm");
  // sorted_indices is a hint lmx does not need.
  std::optional<array> b;
  if (biases) b = gather_matrices(*biases, rhs_indices, s);
  return quantized_matmul(gather_matrices(x, lhs_indices, s), gather_matrices(w, rhs_indices, s),
                          gather_matrices(scales, rhs_indices, s), b, transpose, group_size, bits, mode, s);
}

array qqmm(const array& x, const array& w, const std::optional<array>& scales, std::optional<int> group_size,
           std::optional<int> bits, const std::string& mode, const std::optional<array>& global_scale_x,
           const std::optional<array>& global_scale_w, StreamOrDevice s) {
  QuantSpec q = quant_spec(group_size, bits, mode, "qqmm");
  if (!q.fp)
    throw std::invalid_argument("[qqmm] The 'affine' mode is not supported: use 'nvfp4', 'mxfp8' or 'mxfp4'.");
  if (global_scale_x.has_value() != global_scale_w.has_value())
    throw std::invalid_argument("[qqmm] For nvfp4 mode, either both global_scale_x and global_scale_w must be "
                                "provided, or neither.");
  check_global_scale(global_scale_x, q, "qqmm");
  check_global_scale(global_scale_w, q, "qqmm");
  if (x.ndim() < 1 || !is_floating_point(x.dtype()))
    throw std::invalid_argument("[qqmm] x must be a floating point array with at least one dimension, got " +
                                dtype_name(x.dtype()) + " of shape " + shape_string(x.shape()) + ".");
  check_groups(x, q, "qqmm");
  array wd = w;
  if (w.dtype() == uint32) {
    if (!scales) throw std::invalid_argument("[qqmm] Scales must be provided if second argument is quantized.");
    wd = dequantize(w, *scales, std::nullopt, q.group_size, q.bits, mode, global_scale_w, x.dtype(), s);
  } else {
    if (scales)
      throw std::invalid_argument("[qqmm] Scales were given but w is not quantized (it is " +
                                  dtype_name(w.dtype()) + ", not uint32).");
    if (w.ndim() < 2 || !is_floating_point(w.dtype()))
      throw std::invalid_argument("[qqmm] w must be a quantized (uint32) or floating point matrix, got " +
                                  dtype_name(w.dtype()) + " of shape " + shape_string(w.shape()) + ".");
    check_groups(w, q, "qqmm");
    wd = astype(fp_round_trip(w, q, global_scale_w, s), x.dtype(), s);
  }
  if (wd.shape(-1) != x.shape(-1))
    throw std::invalid_argument("[qqmm] Last dimension of x with shape " + shape_string(x.shape()) +
                                " does not match the last dimension of w (" + std::to_string(wd.shape(-1)) +
                                " values).");
  return matmul(fp_round_trip(x, q, global_scale_x, s), swapaxes(wd, -1, -2, s), s);
}

array gather_qqmm(const array& x, const array& w, const std::optional<array>& scales,
                  const std::optional<array>& lhs_indices, const std::optional<array>& rhs_indices,
                  std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                  const std::optional<array>& global_scale_x, const std::optional<array>& global_scale_w,
                  bool sorted_indices, StreamOrDevice s) {
  if (x.ndim() < 2 || w.ndim() < 2)
    throw std::invalid_argument("[gather_qqmm] x and w must have at least two dimensions.");
  check_gather_indices(lhs_indices, rhs_indices, "gather_qqmm");
  std::optional<array> sc;
  if (scales) sc = gather_matrices(*scales, rhs_indices, s);
  return qqmm(gather_matrices(x, lhs_indices, s), gather_matrices(w, rhs_indices, s), sc, group_size, bits, mode,
              global_scale_x, global_scale_w, s);
}

array to_fp8(const array& x, StreamOrDevice s) {
  if (!is_floating_point(x.dtype()))
    throw std::invalid_argument("[to_fp8] Only real floating types are supported but x has dtype " +
                                dtype_name(x.dtype()) + ".");
  return array(x.shape(), uint8, std::make_shared<Fp8Convert>(to_stream(s), true), {x});
}

array from_fp8(const array& x, Dtype dtype, StreamOrDevice s) {
  if (x.dtype() != uint8)
    throw std::invalid_argument("[from_fp8] Input must have type uint8 but x has dtype " + dtype_name(x.dtype()) + ".");
  if (!is_floating_point(dtype))
    throw std::invalid_argument("[from_fp8] The output dtype must be floating point, got " + dtype_name(dtype) + ".");
  return array(x.shape(), dtype, std::make_shared<Fp8Convert>(to_stream(s), false), {x});
}

}  // namespace lmx
