// CPU kernels of the Unary primitive, generated from the op table.
#include "lmx/backend/common/elementwise_ops.h"
#include "lmx/backend/cpu/elementwise.h"
#include "lmx/primitives/elementwise.h"

namespace lmx {

void Unary::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& in = inputs[0];
  switch (op_) {
#define LMX_UNARY_CASE(Name, pyname, types, result)                        \
  case UnaryOp::Name:                                                      \
    cpu::dispatch_set_##types(in.dtype(), [&](auto tag) {                  \
      using In = typename decltype(tag)::type;                             \
      using Out = typename cpu::result_##result<In>::type;                 \
      cpu::unary_kernel<scalar::Name, In, Out>(in, out);                   \
    });                                                                    \
    break;
    LMX_UNARY_OPS(LMX_UNARY_CASE)
#undef LMX_UNARY_CASE
  }
}

}  // namespace lmx
