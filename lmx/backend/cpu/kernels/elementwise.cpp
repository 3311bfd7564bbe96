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

namespace {

template <typename Op, typename In, typename Out>
void unary_span_erased(const void* x, void* out, size_t n) {
  ::lmx::cpu::unary_span<Op, In, Out>(static_cast<const In*>(x), static_cast<Out*>(out), n);
}

template <typename Op, typename In, typename Out, ScalarOperand S>
void binary_span_erased(const void* x, const void* y, void* out, size_t n) {
  ::lmx::cpu::binary_span<Op, In, Out, S>(static_cast<const In*>(x), static_cast<const In*>(y),
                                          static_cast<Out*>(out), n);
}

}  // namespace

UnarySpanFn unary_span_fn(UnaryOp op, Dtype in) {
  switch (op) {
#define LMX_UNARY_SPAN_CASE(Name, pyname, types, result)                            \
  case UnaryOp::Name:                                                                \
    return dispatch_set_##types(in, [&](auto tag) -> UnarySpanFn {                   \
      using In = typename decltype(tag)::type;                                       \
      return &unary_span_erased<scalar::Name, In, typename result_##result<In>::type>; \
    });
    LMX_UNARY_OPS(LMX_UNARY_SPAN_CASE)
#undef LMX_UNARY_SPAN_CASE
  }
  return nullptr;
}

BinarySpanFn binary_span_fn(BinaryOp op, Dtype in, int scalar_operand) {
  switch (op) {
#define LMX_BINARY_SPAN_CASE(Name, pyname, types, result)                                             \
  case BinaryOp::Name:                                                                                 \
    return dispatch_set_##types(in, [&](auto tag) -> BinarySpanFn {                                    \
      using In = typename decltype(tag)::type;                                                         \
      using Out = typename result_##result<In>::type;                                                  \
      if (scalar_operand == 1) return &binary_span_erased<scalar::Name, In, Out, ScalarOperand::first>;        \
      if (scalar_operand == 2) return &binary_span_erased<scalar::Name, In, Out, ScalarOperand::second>;       \
      return &binary_span_erased<scalar::Name, In, Out, ScalarOperand::none>;                          \
    });
    LMX_BINARY_OPS(LMX_BINARY_SPAN_CASE)
#undef LMX_BINARY_SPAN_CASE
  }
  return nullptr;
}

}  // namespace lmx::cpu::LMX_KERNELS_NS
