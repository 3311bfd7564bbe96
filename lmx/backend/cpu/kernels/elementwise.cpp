// Unary, Binary and Select kernels; the first two generated from the op
// tables (built per ISA).
#include <bit>
#include <cstring>

#include "lmx/backend/common/elementwise_ops.h"
#include "lmx/backend/cpu/elementwise.h"
#include "lmx/backend/cpu/kernels/kernels.h"
#include "lmx/backend/cpu/simd.h"

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

namespace {

// A span loop's step when fixed at compile time (std::integral_constant),
// else -1.
template <typename Step>
constexpr int64_t fixed_step() {
  if constexpr (requires { Step::value; }) return Step::value;
  else return -1;
}

}  // namespace

// Per element, x where cond else y (any inner strides).
void select(const array& cond, const array& x, const array& y, array& out) {
  allocate(out);
  dispatch_all(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Shape shape = out.shape();
    std::vector<Strides> strides = {cond.strides(), x.strides(), y.strides(), out.strides()};
    collapse_dims(shape, strides);
    const bool* c = cond.data<bool>();
    const T* xp = x.data<T>();
    const T* yp = y.data<T>();
    T* d = out.data<T>();
    const int64_t sc = strides[0].back(), sx = strides[1].back(), sy = strides[2].back();
    // Unit or zero inner strides (dense operands, broadcast values, a mask
    // broadcast over batch and heads) get loops of their own. 4-byte values
    // with a dense condition blend whole registers (relu's backward over
    // 1.6M floats: 0.58 ms as the scalar pick); the rest picks by indexing
    // with the condition, without a branch (which mispredicted half the time
    // on a random condition: 2 ms for 524k floats).
    auto run = [&](auto c_step, auto x_step, auto y_step) {
      auto span = [&](const int64_t* off, int64_t n) {
        // Bytes, compared with 0: a bool viewed from other bytes may hold any value.
        const uint8_t* cr = reinterpret_cast<const uint8_t*>(c + off[0]);
        const T *xr = xp + off[1], *yr = yp + off[2];
        T* dr = d + off[3];
        int64_t i = 0;
        if constexpr (sizeof(T) == 4 && std::is_arithmetic_v<T> && fixed_step<decltype(c_step)>() == 1 &&
                      fixed_step<decltype(x_step)>() >= 0 && fixed_step<decltype(y_step)>() >= 0) {
          // Whole register widths as blends. (A loop the compiler vectorised
          // left rows shorter than its width, such as a max pool's 16
          // channels, to a scalar epilogue that branched.)
          constexpr int64_t kLanes = simd::kFloatLanes;
          typedef uint8_t Bytes __attribute__((vector_size(kLanes)));
          for (; i + kLanes <= n; i += kLanes) {
            Bytes cb;
            std::memcpy(&cb, cr + i, sizeof cb);
            const simd::VI keep = __builtin_convertvector(cb, simd::VI) != 0;  // all ones where true
            simd::VI xv, yv;
            if constexpr (fixed_step<decltype(x_step)>() == 1) std::memcpy(&xv, xr + i, sizeof xv);
            else xv = simd::splat(std::bit_cast<int32_t>(*xr));
            if constexpr (fixed_step<decltype(y_step)>() == 1) std::memcpy(&yv, yr + i, sizeof yv);
            else yv = simd::splat(std::bit_cast<int32_t>(*yr));
            const simd::VI picked = (xv & keep) | (yv & ~keep);
            std::memcpy(dr + i, &picked, sizeof picked);
          }
        }
        for (; i < n; ++i) {
          const T pick[2] = {yr[i * y_step], xr[i * x_step]};  // indexed by the condition: no branch
          dr[i] = pick[cr[i * c_step] != 0];
        }
      };
      if (shape.size() == 1) {  // one row (all dense): threads split its elements
        parallel_for(shape[0], 1, [&](size_t b, size_t e) {
          const int64_t i = static_cast<int64_t>(b);
          const int64_t off[4] = {i * sc, i * sx, i * sy, i * strides[3].back()};
          span(off, static_cast<int64_t>(e - b));
        });
      } else {
        parallel_for(outer_rows(shape), shape.back(),
                     [&](size_t b, size_t e) { for_each_row_range<4>(shape, strides, b, e, span); });
      }
    };
    using One = std::integral_constant<int64_t, 1>;
    using Zero = std::integral_constant<int64_t, 0>;
    if (sc == 1 && sx == 1 && sy == 1) run(One{}, One{}, One{});
    else if (sc == 1 && sx == 0 && sy == 1) run(One{}, Zero{}, One{});
    else if (sc == 1 && sx == 1 && sy == 0) run(One{}, One{}, Zero{});
    else if (sc == 1 && sx == 0 && sy == 0) run(One{}, Zero{}, Zero{});
    else run(sc, sx, sy);
  });
}


}  // namespace lmx::cpu::LMX_KERNELS_NS
