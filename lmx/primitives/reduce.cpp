#include "lmx/primitives/reduce.h"

#include "lmx/ops/ops.h"

namespace lmx {

Dtype sum_result_type(Dtype in) {
  switch (in.val()) {
    case Dtype::Val::bool_: case Dtype::Val::int8: case Dtype::Val::int16: return int32;
    case Dtype::Val::uint8: case Dtype::Val::uint16: return uint32;
    default: return in;
  }
}

Shape kept_shape(const Shape& shape, const std::vector<int>& axes) {
  Shape out = shape;
  for (int ax : axes) out[ax] = 1;
  return out;
}

std::string Reduce::name() const { return reduce_name(type_); }

// The input's shape with the reduced axes kept as size 1 (keepdims drops
// them with a separate squeeze).
std::vector<Shape> Reduce::output_shapes(const std::vector<array>& inputs) {
  Shape shape = inputs[0].shape();
  for (int a : axes_) shape[a] = 1;
  return {shape};
}

std::vector<Shape> ArgReduce::output_shapes(const std::vector<array>& inputs) {
  Shape shape = inputs[0].shape();
  shape[axis_] = 1;
  return {shape};
}

std::string reduce_name(ReduceType type) {
  switch (type) {
    case ReduceType::Sum: return "sum";
    case ReduceType::Prod: return "prod";
    case ReduceType::Max: return "max";
    case ReduceType::Min: return "min";
    case ReduceType::And: return "all";
    case ReduceType::Or: return "any";
  }
  return "reduce";
}

// Windows (elements per reduced output) up to which max/min gradients take
// one ExtremeGrad node: it lists each window's offsets.
constexpr int64_t kExtremeGradMaxWindow = 4096;

namespace {

// MLX's rule for a max/min's ties, as ops: where x equals its reduction y
// over `axes` (`hit`), and how many elements of each window do (`count`, in
// `t`, with the axes kept).
struct Ties {
  array hit, count;
};

Ties ties(const array& x, const array& y, const std::vector<int>& axes, Dtype t) {
  array hit = equal(x, broadcast_to(y, x.shape()));
  return {hit, astype(sum(hit, axes, true), t)};
}

}  // namespace

// The cotangent arrives with the reduced axes kept (size 1).
std::vector<array> Reduce::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>&, const std::vector<array>& outputs) {
  const array& x = primals[0];
  array g = broadcast_to(cotangents[0], x.shape());
  switch (type_) {
    case ReduceType::Sum: return {g};
    case ReduceType::Prod: {
      // The product of the other elements, exact with zeros: exclusive
      // products from both sides along the flattened reduced axes.
      std::vector<int> kept;
      std::vector<bool> red(x.ndim(), false);
      for (int a : axes_) red[a] = true;
      for (int d = 0; d < x.ndim(); ++d)
        if (!red[d]) kept.push_back(d);
      std::vector<int> perm = kept;
      perm.insert(perm.end(), axes_.begin(), axes_.end());
      array xt = transpose(x, perm);
      Shape flat(xt.shape().begin(), xt.shape().begin() + kept.size());
      ShapeElem n = 1;
      for (int a : axes_) n *= x.shape(a);
      flat.push_back(n);
      array xf = reshape(xt, flat);
      int ax = static_cast<int>(flat.size()) - 1;
      array others = multiply(cumprod(xf, ax, false, false), cumprod(xf, ax, true, false));
      std::vector<int> inverse(perm.size());
      for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int>(i);
      return {multiply(g, transpose(reshape(others, xt.shape()), inverse))};
    }
    case ReduceType::Max:
    case ReduceType::Min: {
      // One fused node where the CPU has the kernel and the windows are small.
      int64_t window = 1;  // 64-bit: a global reduction's window can pass 2^31
      for (int a : axes_) window *= x.shape(a);
      if (stream().device.type == Device::Type::cpu && x.dtype() == float32 && window <= kExtremeGradMaxWindow)
        return {extreme_grad(x, outputs[0], cotangents[0], axes_, stream())};
      // Ties share the gradient equally, as MLX: each hit gets its output's
      // cotangent over the hit count, computed at the (small) output's size;
      // a select spreads it. (Casting the hits to g's type, then dividing and
      // multiplying at the input's size, was 5 ms of a CNN step's max pools.)
      const Ties t = ties(x, outputs[0], axes_, cotangents[0].dtype());
      array share = divide(cotangents[0], t.count);
      return {where(t.hit, broadcast_to(share, x.shape()), array(0.0, share.dtype()))};
    }
    case ReduceType::And:
    case ReduceType::Or: return {zeros_like(x)};
  }
  return {zeros_like(x)};
}

array extreme_grad(const array& x, const array& y, const array& g, const std::vector<int>& axes, Stream s) {
  const Shape kept = kept_shape(x.shape(), axes);
  if (x.dtype() != float32 || y.dtype() != float32 || g.dtype() != float32 || y.shape() != kept || g.shape() != kept)
    throw std::invalid_argument("[extreme_grad] Expected float32 x " + shape_string(x.shape()) +
                                " with y and g of shape " + shape_string(kept) + ", got " +
                                shape_string(y.shape()) + " and " + shape_string(g.shape()) + ".");
  return array(x.shape(), float32, std::make_shared<ExtremeGrad>(s, axes), {x, y, g});
}

bool ExtremeGrad::is_equivalent(const Primitive& o) const {
  auto* e = dynamic_cast<const ExtremeGrad*>(&o);
  return e && e->axes_ == axes_;
}

// Linear in g: its cotangent is h summed over each window with the same
// shares; x and y move the result only where ties change, so not at all.
std::vector<array> ExtremeGrad::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const array &x = primals[0], &y = primals[1];
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg < 2) {
      out.push_back(zeros_like(primals[arg]));
      continue;
    }
    const Ties t = ties(x, y, axes_, float32);
    out.push_back(divide(sum(where(t.hit, cotangents[0], array(0.0f)), axes_, true), t.count));
  }
  return out;
}

std::vector<array> ArgReduce::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  return {zeros_like(primals[0])};  // an index does not change with small moves of the values
}

// Batching: the mapped axis moves to the front and the reduced axes shift.
std::pair<std::vector<array>, std::vector<int>> Reduce::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes,
                                                             const std::vector<array>& outputs) {
  array x = axes[0] == 0 ? inputs[0] : moveaxis(inputs[0], axes[0], 0);
  std::vector<int> shifted;
  for (int a : axes_) shifted.push_back(a + 1);
  Shape shape = outputs[0].shape();
  shape.insert(shape.begin(), x.shape(0));
  return {{array(shape, outputs[0].dtype(), std::make_shared<Reduce>(stream(), type_, shifted), {x})}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> ArgReduce::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes,
                                                                const std::vector<array>& outputs) {
  array x = axes[0] == 0 ? inputs[0] : moveaxis(inputs[0], axes[0], 0);
  Shape shape = outputs[0].shape();
  shape.insert(shape.begin(), x.shape(0));
  return {{array(shape, outputs[0].dtype(), std::make_shared<ArgReduce>(stream(), type_, axis_ + 1), {x})}, {0}};
}

}  // namespace lmx
