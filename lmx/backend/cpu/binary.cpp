// CPU kernels of the Binary primitive, generated from the op table.
#include "lmx/backend/common/elementwise_ops.h"
#include "lmx/backend/cpu/elementwise.h"
#include "lmx/primitives/elementwise.h"

namespace lmx {

void Binary::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& a = inputs[0];
  const array& b = inputs[1];
  switch (op_) {
#define LMX_BINARY_CASE(Name, pyname, types, result)                       \
  case BinaryOp::Name:                                                     \
    cpu::dispatch_set_##types(a.dtype(), [&](auto tag) {                   \
      using In = typename decltype(tag)::type;                             \
      using Out = typename cpu::result_##result<In>::type;                 \
      cpu::binary_kernel<scalar::Name, In, Out>(a, b, out);                \
    });                                                                    \
    break;
    LMX_BINARY_OPS(LMX_BINARY_CASE)
#undef LMX_BINARY_CASE
  }
}

}  // namespace lmx
