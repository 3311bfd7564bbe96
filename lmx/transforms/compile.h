// compile: trace a function of arrays once per input signature, simplify the
// traced graph and fuse its elementwise chains, then replay the result on
// every call with the same signature.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lmx/transforms/autodiff.h"

namespace lmx {

class StepReplay;

// disabled: compile returns the function unchanged. no_simplify: trace and
// fuse, without merging duplicate work. no_fuse: trace and simplify, without
// fusing. enabled: everything (the default, unless LMX_DISABLE_COMPILE or
// MLX_DISABLE_COMPILE is set to a non-empty value other than 0).
enum class CompileMode { disabled, no_simplify, no_fuse, enabled };

void set_compile_mode(CompileMode mode);
CompileMode compile_mode();
void disable_compile();
void enable_compile();

// One traced, simplified and fused graph of a function, replayable on new
// inputs of the traced signature (the same dtypes and shapes, or with
// `shapeless`, the same dtypes and numbers of dimensions).
class CompiledGraph {
 public:
  // Traces fun on placeholders shaped like `examples`. Throws if fun
  // evaluates an array that depends on its inputs, or (shapeless) uses a
  // primitive that cannot infer its output shapes.
  CompiledGraph(const ArrayFn& fun, const std::vector<array>& examples, bool shapeless);
  struct Program;
  // A program built elsewhere (import_function reads one from a file).
  CompiledGraph(std::unique_ptr<Program> program, bool shapeless, Device device);
  ~CompiledGraph();
  CompiledGraph(const CompiledGraph&) = delete;
  CompiledGraph& operator=(const CompiledGraph&) = delete;

  // fun's outputs for these inputs, as a new lazy graph.
  std::vector<array> operator()(const std::vector<array>& inputs) const;
  // Whether inputs match the traced signature.
  bool accepts(const std::vector<array>& inputs) const;
  // Counts after simplification and fusion (for tests and export_to_dot).
  size_t num_nodes() const;
  size_t num_fused() const;
  // The graph in Graphviz dot syntax.
  std::string to_dot() const;

  const Program& program() const { return *program_; }
  bool shapeless() const { return shapeless_; }
  const Device& device() const { return device_; }

 private:
  void prepare_steps();

  std::shared_ptr<Program> program_;
  bool shapeless_;
  Device device_;  // the default device when traced: replays there only
  // On a GPU, calls after the first few become one node each, recorded as
  // one CUDA graph (compile_step.h); null where they cannot.
  std::shared_ptr<StepReplay> steps_;
};

// fun compiled: traced on the first call with each input signature (dtypes,
// shapes unless shapeless, and the default device), the graphs cached in the
// returned function.
ArrayFn compile(ArrayFn fun, bool shapeless = false);

namespace detail {
// True on a thread that is tracing a shapeless compile: ops that broadcast
// then record their operands, so the broadcast shape can be recomputed.
bool in_shapeless_trace();
// True on a thread that is tracing any compile.
bool in_compile_trace();
}  // namespace detail

}  // namespace lmx
