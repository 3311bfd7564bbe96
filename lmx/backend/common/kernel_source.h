// Names that generated kernel source uses for what the library defines: the
// C++ element type of a dtype and the scalar functor of an elementwise op
// (backend/common/elementwise_ops.h). Shared by the run-time generators of
// the CPU (backend/cpu/fused_kernel.cpp) and CUDA (backend/cuda/compiled.cpp)
// backends; each decides which types it generates kernels for.
#pragma once

#include <vector>

#include "lmx/dtype.h"
#include "lmx/primitives/compiled.h"
#include "lmx/primitives/elementwise.h"

namespace lmx {

// "float", "bfloat16_t", "complex64_t", ... as the library's headers name them.
const char* element_type_name(Dtype t);

// "Exp", "Add", ...: the functor in lmx::scalar.
const char* functor_name(UnaryOp op);
const char* functor_name(BinaryOp op);

// Whether a generator has a name for every element type of c's chain (its
// inputs' and its steps'): `type_name` gives null for a type it leaves out.
template <typename TypeName>
bool chain_types_named(const Compiled& c, const std::vector<Dtype>& input_types, TypeName type_name) {
  for (auto t : input_types)
    if (!type_name(t)) return false;
  for (auto& s : c.steps())
    if (!type_name(s.dtype)) return false;
  return true;
}

}  // namespace lmx
