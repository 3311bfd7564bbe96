// Compiled: a chain of elementwise operations fused by compile into one node: a tiny
// program over numbered slots, run by the backends without materialising the
// intermediate arrays.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "lmx/primitives/elementwise.h"
#include "lmx/primitives/reduce.h"

namespace lmx {

class CompiledGraph;

// One operation of a fused program. Slots [0, number of inputs) hold the
// fused node's inputs; step i writes slot (number of inputs + i).
struct FusedStep {
  enum class Kind : uint8_t { unary, binary, select, cast };
  Kind kind;
  int op = 0;             // UnaryOp / BinaryOp code for unary and binary steps
  int args[3] = {0, 0, 0};  // slots read (1 for unary and cast, 2 for binary, 3 for select)
  Dtype dtype;            // the step's result type

  int arity() const { return kind == Kind::binary ? 2 : kind == Kind::select ? 3 : 1; }
};

// A reduction that ends a fused chain: its one output value, of `shape`
// (the chain's), is reduced over `axes` (the trailing ones, kept as size 1)
// and never stored. Floating chains only, reduced in their own dtype. In a
// shapeless program `shape` is the traced one and each evaluation takes the
// chain's shape from its inputs (there every input of a chain has it).
struct FusedReduction {
  ReduceType type;
  std::vector<int> axes;
  Shape shape;
  bool shapeless = false;
};

// The outputs share one shape; each input has that shape or broadcasts to
// it (compile folds broadcasts into the fused node). With a reduction the
// node has one output, the reduced value.
class Compiled : public Primitive {
 public:
  Compiled(Stream s, std::vector<FusedStep> steps, std::vector<int> output_slots,
           std::optional<FusedReduction> reduction = std::nullopt)
      : Primitive(s), steps_(std::move(steps)), output_slots_(std::move(output_slots)),
        reduction_(std::move(reduction)) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::string name() const override;
  bool is_equivalent(const Primitive& o) const override;
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes,
                                                       const std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;

  const std::vector<FusedStep>& steps() const { return steps_; }
  const std::vector<int>& output_slots() const { return output_slots_; }
  const std::optional<FusedReduction>& reduction() const { return reduction_; }
  // The same computation as separate elementwise nodes on `inputs`, with
  // outputs of `shape` (then the reduction, if any): what the transforms
  // differentiate and batch, and what a backend without a fused kernel runs.
  std::vector<array> expand(const std::vector<array>& inputs, const Shape& shape) const;
  // The shape the chain's steps compute over, for these inputs and outputs.
  Shape chain_shape(const std::vector<array>& inputs, const std::vector<array>& outputs) const;

 private:
  std::vector<FusedStep> steps_;
  std::vector<int> output_slots_;
  std::optional<FusedReduction> reduction_;
  // The backward of this chain, compiled once per (argnums, signature): the
  // replays of a compiled function share this primitive, so a training loop
  // traces its backward once.
  struct Backward {
    std::vector<int> argnums;
    std::shared_ptr<CompiledGraph> graph;
  };
  std::mutex backward_mu_;
  std::vector<Backward> backward_;
};

}  // namespace lmx
