// A compiled function's call on a GPU stream as one graph node, whose
// evaluation runs the whole program and records its kernels as one CUDA
// graph that later calls launch again without running the primitives
// (gpu::record_step). On a GPU, a decode step of an LLM is a thousand small
// kernels, and running each primitive costs the host more than the device
// spends on its kernel.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lmx/primitives/primitive.h"
#include "lmx/transforms/compile_program.h"

namespace lmx {

// The recordings of one compiled graph and what its calls need to replay
// them (compile_step.cpp).
class StepReplay;

// A call's node. Calls under a transform build the program's nodes instead
// (detail::in_transform_trace); should a step node still meet one, vjp and
// vmap apply to the program's own nodes.
class CompiledStep : public Primitive {
 public:
  CompiledStep(Stream stream, std::shared_ptr<StepReplay> replay) : Primitive(stream), replay_(std::move(replay)) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::string name() const override { return "compiled_step"; }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs, const std::vector<int>& axes,
                                                       const std::vector<array>& outputs) override;

 private:
  std::shared_ptr<StepReplay> replay_;
};

namespace compile_passes {

// The calls of a compiled program that become CompiledStep nodes: null when
// none may (not on a GPU, shapeless, nodes on several streams, step graphs
// turned off). Otherwise each call asks step_call first.
std::shared_ptr<StepReplay> step_replay(const std::shared_ptr<const Program>& program, const Device& device,
                                        bool shapeless);
// The call's outputs as one CompiledStep node, or an empty vector when this
// call should build the program's nodes instead (the first calls, which
// warm the kernels up, and every call once recording has been given up).
std::vector<array> step_call(const std::shared_ptr<StepReplay>& replay, const std::vector<array>& inputs);

}  // namespace compile_passes

}  // namespace lmx
