// eval_cpu of the primitives whose kernels are built per ISA: each forwards
// to the build the CPU runs best (backend/cpu/isa.h).
#include "lmx/backend/cpu/isa.h"
#include "lmx/backend/cpu/kernels/kernels.h"

namespace lmx {

void Unary::eval_cpu(const std::vector<array>& inputs, array& out) { LMX_CPU_KERNEL(unary, op_, inputs[0], out); }

void Binary::eval_cpu(const std::vector<array>& inputs, array& out) {
  LMX_CPU_KERNEL(binary, op_, inputs[0], inputs[1], out);
}

void Reduce::eval_cpu(const std::vector<array>& inputs, array& out) {
  LMX_CPU_KERNEL(reduce, type_, axes_, inputs[0], out);
}

void ArgReduce::eval_cpu(const std::vector<array>& inputs, array& out) {
  LMX_CPU_KERNEL(arg_reduce, type_, axis_, inputs[0], out);
}

}  // namespace lmx
