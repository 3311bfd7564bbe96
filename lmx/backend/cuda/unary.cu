// Unary elementwise ops on the GPU, one instantiation per op and dtype of
// its kernel set.
#include "lmx/backend/cuda/elementwise.cuh"

namespace lmx::cu {

namespace {

template <typename Op, template <typename> class Result, typename Set>
bool run_unary(const array& in, array& out, cudaStream_t st) {
  return dispatch_gpu(in.dtype(), [&](auto tag) {
    using In = typename decltype(tag)::type;
    using Out = typename Result<In>::type;
    if constexpr (Set::template has<In>) {
      const In* x = static_cast<const In*>(device_read(in, st));
      allocate_like(in, out, st, std::is_same_v<In, Out>);
      launch_map<Out>(UnaryFn<Op, In, Out>{}, out, st, std::pair{&in, x});
    } else {
      // Unreachable: the op validated the dtype.
      throw std::invalid_argument(std::string("[unary] Unsupported dtype ") + dtype_name(in.dtype()) + ".");
    }
  });
}

}  // namespace

bool unary(UnaryOp op, const array& in, array& out, cudaStream_t st) {
  switch (op) {
#define LMX_UNARY_CASE(Name, pyname, types, result) \
  case UnaryOp::Name:                               \
    return run_unary<scalar::Name, result_##result, KernelSet_##types>(in, out, st);
    LMX_UNARY_OPS(LMX_UNARY_CASE)
#undef LMX_UNARY_CASE
  }
  return false;
}

}  // namespace lmx::cu
