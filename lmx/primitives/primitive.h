// Primitive: the operation that produces a node's outputs from its inputs.
// Each backend supplies eval_cpu / eval_gpu; the transform rules (vjp, jvp,
// vmap) will live beside them on the same class.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "lmx/array.h"

namespace lmx {

class Primitive {
 public:
  explicit Primitive(Stream stream) : stream_(stream) {}
  virtual ~Primitive() = default;
  Primitive(const Primitive&) = delete;
  Primitive& operator=(const Primitive&) = delete;

  const Stream& stream() const { return stream_; }
  virtual void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) = 0;
  virtual void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) = 0;
  virtual std::string name() const = 0;
  // Same operation with the same parameters (lets compile merge duplicates).
  virtual bool is_equivalent(const Primitive&) const { return false; }

  // Reverse-mode rule: the cotangents of primals[argnums[i]] given the
  // cotangents of every output (zeros where an output got none). Written
  // with ops, so rules are themselves differentiable (grad of grad, and jvp
  // through the transpose of the vjp). The default raises, naming the
  // primitive: a missing rule is an error, never silent zeros. An invalid
  // (default-constructed) array for an input means no gradient flows there.
  virtual std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums, const std::vector<array>& outputs);

  // Batching rule: the outputs for inputs that carry an extra (mapped) axis
  // at axes[i] (-1: not mapped), with each output's mapped axis. `outputs`
  // are the unbatched outputs. The default applies this primitive to each
  // slice and stacks the results: always correct, rules make it fast.
  virtual std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes,
                                                               const std::vector<array>& outputs);

  // The output shapes for inputs of other shapes, so that a function compiled
  // with shapeless=True can replay this primitive. The default raises, naming
  // the primitive: most primitives fix their output shape when built.
  virtual std::vector<Shape> output_shapes(const std::vector<array>& inputs);

 private:
  Stream stream_;
};

// A primitive with exactly one output.
class UnaryPrimitive : public Primitive {
 public:
  using Primitive::Primitive;
  virtual void eval_cpu(const std::vector<array>& inputs, array& out) = 0;
  virtual void eval_gpu(const std::vector<array>& inputs, array& out) = 0;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) final {
    eval_cpu(inputs, outputs[0]);
  }
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) final {
    eval_gpu(inputs, outputs[0]);
  }
};

// Declares the two backend entry points of a single-output primitive; the
// definitions live in backend/cpu and backend/cuda (or backend/no_gpu).
#define LMX_DECLARE_EVAL                                                 \
  void eval_cpu(const std::vector<array>& inputs, array& out) override; \
  void eval_gpu(const std::vector<array>& inputs, array& out) override;

// Declares a primitive's batching rule (defined in lmx/primitives/).
#define LMX_DECLARE_VMAP                                                                                   \
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,                \
                                                       const std::vector<int>& axes,                      \
                                                       const std::vector<array>& outputs) override;

// Declares a primitive's output shape rule (for shapeless compile).
#define LMX_DECLARE_OUTPUT_SHAPES \
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;

// Declares a primitive's differentiation rule (defined in lmx/primitives/).
#define LMX_DECLARE_VJP                                                                                     \
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,         \
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;

}  // namespace lmx
