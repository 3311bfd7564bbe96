// Reductions over a set of axes (the output keeps them with size 1).
#pragma once

#include "lmx/primitives/primitive.h"

namespace lmx {

enum class ReduceType { Sum, Prod, Max, Min, And, Or };
std::string reduce_name(ReduceType type);  // "sum", "prod", ... as the ops are called
// A reduction's output shape: `shape` with the reduced axes kept as size 1.
Shape kept_shape(const Shape& shape, const std::vector<int>& axes);

class Reduce : public UnaryPrimitive {
 public:
  Reduce(Stream s, ReduceType type, std::vector<int> axes)
      : UnaryPrimitive(s), type_(type), axes_(std::move(axes)) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  LMX_DECLARE_OUTPUT_SHAPES
  std::string name() const override;
  ReduceType type() const { return type_; }
  const std::vector<int>& axes() const { return axes_; }

 private:
  ReduceType type_;
  std::vector<int> axes_;
};

// The gradient of a max or min reduction over `axes`: each element of x
// equal to its reduction's result y gets g's value there divided by the
// number of such ties, the others 0. Inputs x, y and g (y and g with the
// reduced axes kept as size 1), all float32; the CPU computes it in one pass
// per window (a max pool's backward was four passes over the input).
class ExtremeGrad : public UnaryPrimitive {
 public:
  ExtremeGrad(Stream s, std::vector<int> axes) : UnaryPrimitive(s), axes_(std::move(axes)) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override { return "extreme_grad"; }
  bool is_equivalent(const Primitive& o) const override;
  const std::vector<int>& axes() const { return axes_; }

 private:
  std::vector<int> axes_;
};

// The ExtremeGrad node, checking its inputs' shapes and dtypes.
array extreme_grad(const array& x, const array& y, const array& g, const std::vector<int>& axes, Stream s);

enum class ArgReduceType { ArgMax, ArgMin };

// Index (uint32) of the first extreme element along one axis (kept, size 1).
class ArgReduce : public UnaryPrimitive {
 public:
  ArgReduce(Stream s, ArgReduceType type, int axis) : UnaryPrimitive(s), type_(type), axis_(axis) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  LMX_DECLARE_OUTPUT_SHAPES
  std::string name() const override { return type_ == ArgReduceType::ArgMax ? "argmax" : "argmin"; }
  ArgReduceType type() const { return type_; }
  int axis() const { return axis_; }

 private:
  ArgReduceType type_;
  int axis_;
};

// Accumulation dtype of sum/prod: small integers widen to 32 bits, as in MLX.
Dtype sum_result_type(Dtype in);

}  // namespace lmx
