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

// Checks w_q (uint32, >= 2-d) against scales/biases for a spec and returns
// the number of values per packed row.
ShapeElem check_packed(const array& w, const array& scales, const std::optional<array>& biases, QuantSpec q,
                       const std::string& op) {
  if (w.dtype() != uint32)
    throw std::invalid_argument(err(op) + "The weight matrix should be uint32 but received " + dtype_name(w.dtype()) +
                                ".");
  if (w.ndim() < 2)
    throw std::invalid_argument(err(op) + "The quantized matrix must have at least 2 dimensions, got " +
                                shape_string(w.shape()) + ".");
  if (!biases) throw std::invalid_argument(err(op) + "Biases must be provided for affine quantization.");
  if (biases->shape() != scales.shape())
    throw std::invalid_argument(err(op) + "Scales and biases should have the same shape. Received scales with shape " +
                                shape_string(scales.shape()) + " and biases with " + shape_string(biases->shape()) +
                                ".");
  if (!is_floating_point(scales.dtype()) || !is_floating_point(biases->dtype()))
    throw std::invalid_argument(err(op) + "Scales and biases must be floating point.");
  ShapeElem values = unpacked(w.shape(-1), q.bits);
  Shape expected = w.shape();
  expected.back() = values / q.group_size;
  if (values % q.group_size != 0 || scales.shape() != expected)
    throw std::invalid_argument(err(op) + "Shape of scales and biases does not match the matrix given the "
                                "quantization parameters. Provided matrix of shape " + shape_string(w.shape()) +
                                " and scales/biases of shape " + shape_string(scales.shape()) + " with group_size=" +
                                std::to_string(q.group_size) + " and bits=" + std::to_string(q.bits) + ".");
  return values;
}

}  // namespace

QuantSpec quant_spec(std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                     const std::string& op) {
  if (mode == "mxfp4" || mode == "nvfp4" || mode == "mxfp8")
    throw std::invalid_argument(err(op) + "The '" + mode + "' mode is not available in lmx yet; use 'affine'.");
  if (mode != "affine") throw std::invalid_argument(err(op) + "Invalid quantization mode '" + mode + "'.");
  QuantSpec q{group_size.value_or(64), bits.value_or(4)};
  if (q.group_size != 32 && q.group_size != 64 && q.group_size != 128)
    throw std::invalid_argument(err(op) + "The requested group size " + std::to_string(q.group_size) +
                                " is not supported. The supported group sizes are 32, 64, and 128.");
  if (q.bits < 1 || q.bits > 8 || q.bits == 7)
    throw std::invalid_argument(err(op) + "The requested number of bits " + std::to_string(q.bits) +
                                " is not supported. The supported bits are 1, 2, 3, 4, 5, 6 and 8.");
  return q;
}

std::vector<array> quantize(const array& w, std::optional<int> group_size, std::optional<int> bits,
                            const std::string& mode, StreamOrDevice s) {
  QuantSpec q = quant_spec(group_size, bits, mode, "quantize");
  if (w.ndim() < 2)
    throw std::invalid_argument("[quantize] The matrix to be quantized must have at least 2 dimension but it has only " +
                                std::to_string(w.ndim()) + ".");
  if (!is_floating_point(w.dtype()))
    throw std::invalid_argument("[quantize] Only real floating types can be quantized, got " +
                                dtype_name(w.dtype()) + ".");
  if (w.shape(-1) % q.group_size != 0)
    throw std::invalid_argument("[quantize] The last dimension of the matrix needs to be divisible by the "
                                "quantization group size " + std::to_string(q.group_size) +
                                ". However the provided matrix has shape " + shape_string(w.shape()));
  Shape packed = w.shape(), groups = w.shape();
  packed.back() = w.shape(-1) * q.bits / 32;
  groups.back() = w.shape(-1) / q.group_size;
  return array::make_arrays({packed, groups, groups}, {uint32, w.dtype(), w.dtype()},
                            std::make_shared<AffineQuantize>(to_stream(s), q.group_size, q.bits), {w});
}

array dequantize(const array& w, const array& scales, const std::optional<array>& biases,
                 std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                 std::optional<Dtype> dtype, StreamOrDevice s) {
  QuantSpec q = quant_spec(group_size, bits, mode, "dequantize");
  ShapeElem values = check_packed(w, scales, biases, q, "dequantize");
  Dtype out = dtype.value_or(scales.dtype());
  if (!is_floating_point(out))
    throw std::invalid_argument("[dequantize] The output dtype must be floating point, got " + dtype_name(out) + ".");
  Shape shape = w.shape();
  shape.back() = values;
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
  for (const auto* idx : {&lhs_indices, &rhs_indices})
    if (*idx && (!is_integral((*idx)->dtype()) || (*idx)->dtype() == bool_))
      throw std::invalid_argument("[gather_qmm] Indices must be integers, got " + dtype_name((*idx)->dtype()) + ".");
  if (lhs_indices && rhs_indices) broadcast_shapes(lhs_indices->shape(), rhs_indices->shape(), "gather_qmm");
  // Each operand's batch dims flatten into one axis of matrices that the
  // indices select from (sorted_indices is a hint lmx does not need).
  auto matrices = [&](const array& a) {
    ShapeElem count = 1;
    for (int d = 0; d < a.ndim() - 2; ++d) count *= a.shape(d);
    return reshape(a, {count, a.shape(-2), a.shape(-1)}, s);
  };
  auto pick = [&](const array& a, const std::optional<array>& idx) {
    return idx ? take(matrices(a), *idx, 0, s) : a;
  };
  std::optional<array> b = biases ? std::optional<array>(pick(*biases, rhs_indices)) : std::nullopt;
  return quantized_matmul(pick(x, lhs_indices), pick(w, rhs_indices), pick(scales, rhs_indices), b, transpose,
                          group_size, bits, mode, s);
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
