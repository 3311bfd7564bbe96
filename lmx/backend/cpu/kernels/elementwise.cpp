// Unary and Binary kernels, generated from the op tables (built per ISA).
#include "lmx/backend/common/elementwise_ops.h"
#include "lmx/backend/cpu/elementwise.h"
#include "lmx/backend/cpu/kernels/kernels.h"

namespace lmx::cpu::LMX_KERNELS_NS {

void unary(UnaryOp op, const array& in, array& out) {
  switch (op) {
#define LMX_UNARY_CASE(Name, pyname, types, result)              \
  case UnaryOp::Name:                                            \
    dispatch_set_##types(in.dtype(), [&](auto tag) {             \
      using In = typename decltype(tag)::type;                   \
      using Out = typename result_##result<In>::type;            \
      unary_kernel<scalar::Name, In, Out>(in, out);              \
    });                                                          \
    break;
    LMX_UNARY_OPS(LMX_UNARY_CASE)
#undef LMX_UNARY_CASE
  }
}

void binary(BinaryOp op, const array& a, const array& b, array& out) {
  switch (op) {
#define LMX_BINARY_CASE(Name, pyname, types, result)             \
  case BinaryOp::Name:                                           \
    dispatch_set_##types(a.dtype(), [&](auto tag) {              \
      using In = typename decltype(tag)::type;                   \
      using Out = typename result_##result<In>::type;            \
      binary_kernel<scalar::Name, In, Out>(a, b, out);           \
    });                                                          \
    break;
    LMX_BINARY_OPS(LMX_BINARY_CASE)
#undef LMX_BINARY_CASE
  }
}

}  // namespace lmx::cpu::LMX_KERNELS_NS
