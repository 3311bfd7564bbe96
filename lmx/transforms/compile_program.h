// The traced graph of a compiled function as a small program: numbered values
// (inputs, constants, node outputs) and nodes in execution order. The graph
// passes rewrite it; replay turns it back into arrays.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lmx/primitives/primitive.h"
#include "lmx/transforms/compile.h"

namespace lmx {

struct CompiledGraph::Program {
  struct Value {
    Shape shape;
    Dtype dtype;
    array constant;  // valid for a constant: an array captured from outside the function
  };
  struct Node {
    std::shared_ptr<Primitive> primitive;
    std::vector<int> inputs;   // value numbers
    std::vector<int> outputs;  // value numbers, in the primitive's output order
  };
  int num_inputs = 0;          // values [0, num_inputs) are the function's inputs
  std::vector<Value> values;
  std::vector<Node> nodes;     // every node after the nodes it reads
  std::vector<int> outputs;    // the function's outputs

  bool is_input(int v) const { return v < num_inputs; }
};

namespace compile_passes {

using Program = CompiledGraph::Program;

// For each value, the index of the node that makes it (-1 for inputs and constants).
std::vector<int> producers(const Program& p);

// `primitive` applied to `inputs` as the lazy arrays of the program values
// `values` (their dtypes; their shapes unless `shapes` is given).
std::vector<array> apply(const Program& p, const std::vector<int>& values, const std::shared_ptr<Primitive>& primitive,
                         std::vector<array> inputs, std::vector<Shape> shapes = {});

// The program's nodes applied to `inputs` (of the program's signature), as
// a new lazy graph; `shapeless` recomputes each node's output shapes.
std::vector<array> replay(const Program& p, const std::vector<array>& inputs, bool shapeless);

// The unevaluated graph behind `outputs` as a program without inputs.
std::unique_ptr<Program> record(const std::vector<array>& outputs);
// The program in Graphviz dot syntax.
std::string to_dot(const Program& p);

// Folds constants with the same dtype, shape and bytes into one.
void merge_constants(Program& p);
// Removes nodes that repeat an earlier node: an equivalent primitive on the
// same inputs (common subexpressions).
void merge_equivalent_nodes(Program& p);
// Drops nodes and constants no output depends on.
void remove_dead_code(Program& p);
// Replaces connected chains of elementwise nodes with single fused nodes;
// broadcasts feeding only one chain are folded into it (in a `shapeless`
// program, those that keep the chain's shape rule: see compile_fuse.cpp).
void fuse_elementwise(Program& p, bool shapeless);

// Folds a reduction into the fused chain that alone feeds it (a sum, max or
// min over trailing axes of a floating chain), so the chain's values are
// reduced as they are computed and never stored. In a shapeless program the
// fused node takes the chain's shape from its inputs at each evaluation.
void fuse_reductions(Program& p, bool shapeless);

// Matmuls reading the same left operand with shared (K, N) matrices become
// one MatmulGroup node per stream (at most MatmulGroup::kMaxMatrices each),
// and transposed quantised products of one x with 2-D matrices of one group
// size and bits one QuantizedMatmulGroup, unless one's matrix depends on
// another's product.
void group_sibling_matmuls(Program& p);
// An RMS norm of a residual add's sum (no broadcast in the add) becomes one
// AddRMSNorm node giving the norm and the sum.
void fuse_residual_norms(Program& p);

}  // namespace compile_passes

}  // namespace lmx
