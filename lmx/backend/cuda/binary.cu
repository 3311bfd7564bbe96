// Binary elementwise ops and where() on the GPU, one instantiation per op
// and dtype of its kernel set.
#include "lmx/backend/cuda/elementwise.cuh"

namespace lmx::cu {

namespace {

template <typename Op, template <typename> class Result, typename Set>
bool run_binary(const array& a, const array& b, array& out, cudaStream_t st) {
  return dispatch_gpu(a.dtype(), [&](auto tag) {
    using In = typename decltype(tag)::type;
    using Out = typename Result<In>::type;
    if constexpr (Set::template has<In>) {
      const In* x = static_cast<const In*>(device_read(a, st));
      const In* y = static_cast<const In*>(device_read(b, st));
      constexpr bool donate = std::is_same_v<In, Out>;
      // The output takes the layout of a dense operand (its buffer, if donated).
      if (same_dense_layout(a, b) || b.data_size() == 1) allocate_like(a, out, st, donate);
      else if (a.data_size() == 1) allocate_like(b, out, st, donate);
      else allocate(out, st);
      launch_map<Out>(BinaryFn<Op, In, Out>{}, out, st, std::pair{&a, x}, std::pair{&b, y});
    } else {
      throw std::invalid_argument(std::string("[binary] Unsupported dtype ") + dtype_name(a.dtype()) + ".");
    }
  });
}

}  // namespace

bool binary(BinaryOp op, const array& a, const array& b, array& out, cudaStream_t st) {
  switch (op) {
#define LMX_BINARY_CASE(Name, pyname, types, result) \
  case BinaryOp::Name:                               \
    return run_binary<scalar::Name, result_##result, KernelSet_##types>(a, b, out, st);
    LMX_BINARY_OPS(LMX_BINARY_CASE)
#undef LMX_BINARY_CASE
  }
  return false;
}

bool select(const array& cond, const array& x, const array& y, array& out, cudaStream_t st) {
  return dispatch_gpu(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const bool* c = static_cast<const bool*>(device_read(cond, st));
    const T* xp = static_cast<const T*>(device_read(x, st));
    const T* yp = static_cast<const T*>(device_read(y, st));
    allocate(out, st);
    launch_map<T>(SelectFn<T>{}, out, st, std::pair{&cond, c}, std::pair{&x, xp}, std::pair{&y, yp});
  });
}

}  // namespace lmx::cu
