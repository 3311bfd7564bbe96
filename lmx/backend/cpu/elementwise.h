// Kernel templates behind the elementwise primitives: a flat loop for dense
// operands (any memory order, as long as all operands share it), a
// scalar-operand loop, and a general strided walk.
#pragma once

#include <cstring>
#include <initializer_list>
#include <type_traits>

#include "lmx/backend/common/cast.h"
#include "lmx/backend/common/dispatch.h"
#include "lmx/backend/common/layout.h"
#include "lmx/backend/common/strided.h"
#include "lmx/backend/cpu/copy.h"
#include "lmx/backend/cpu/simd.h"
#include "lmx/backend/cpu/simd_ops.h"
#include "lmx/backend/common/elementwise_ops.h"
#include "lmx/runtime/thread_pool.h"
#include "lmx/backend/common/isa_namespace.h"

namespace lmx::cpu {

inline namespace LMX_ISA_NS {


// Per-element cost of Op for parallel_for (the functor's kCost, default 1).
template <typename Op>
constexpr size_t op_cost() {
  if constexpr (requires { Op::kCost; }) return Op::kCost;
  else return 1;
}

// Dense and laid out like `like`: the output reuses that layout.
inline bool same_dense_layout(const array& a, const array& like) {
  return a.flags().contiguous && a.data_size() == a.size() && a.strides() == like.strides();
}

// Gives out a buffer laid out like the dense input `in`, donating it if allowed.
inline void allocate_like(const array& in, array& out, bool may_donate) {
  if (may_donate && in.is_donatable() && in.itemsize() == out.itemsize()) {
    out.copy_shared_buffer(in);
  } else if (in.flags().contiguous && in.data_size() == in.size()) {
    out.set_data(std::make_shared<Data>(cpu_allocator().malloc(out.nbytes())), in.data_size(),
                 in.strides(), in.flags());
  } else {
    allocate(out);
  }
}

// The op over n dense elements: the inner loop of the dense kernels and of
// compile's fused kernels.
template <typename Op, typename In, typename Out>
void unary_span(const In* src, Out* dst, size_t n) {
  Op op;
  size_t i = 0;
  if constexpr (has_simd_v<Op> && std::is_same_v<In, float> && std::is_same_v<Out, float>) {
    constexpr size_t L = simd::kFloatLanes;
    for (; i + L <= n; i += L) {
      simd::VF v;
      std::memcpy(&v, src + i, sizeof v);
      v = simd_apply<Op>(v);
      std::memcpy(dst + i, &v, sizeof v);
    }
    if (i < n) {  // the tail too, as one vector (simd_tail in simd_ops.h)
      simd::store_part(dst + i, simd_apply<Op>(simd_tail(src + i, n - i)), static_cast<int64_t>(n - i));
      return;
    }
  }
  for (; i < n; ++i) dst[i] = cast_value<Out>(op(static_cast<compute_t<In>>(src[i])));
}

// Which operand of a binary span is a single value repeated.
enum class ScalarOperand { none, first, second };

// x ** e over a span by multiplication where e is one of small_power's
// exponents (simd_ops.h); false for other exponents.
template <typename T>
bool power_by_multiplication(const T* x, T e, T* d, size_t n) {
  auto run = [&](auto exponent) {
    for (size_t i = 0; i < n; ++i) d[i] = power_small<decltype(exponent)::value>(x[i]);
    return true;
  };
  switch (small_power(e)) {
    case 2: return run(std::integral_constant<int, 2>{});
    case 3: return run(std::integral_constant<int, 3>{});
    case 4: return run(std::integral_constant<int, 4>{});
    case 1: return run(std::integral_constant<int, 1>{});
    case 0: return run(std::integral_constant<int, 0>{});
    case -1: return run(std::integral_constant<int, -1>{});
    default: return false;
  }
}

template <typename Op, typename In, typename Out, ScalarOperand S = ScalarOperand::none>
void binary_span(const In* x, const In* y, Out* d, size_t n) {
  Op op;
  using C = compute_t<In>;
  if constexpr (S == ScalarOperand::first) {
    const C a = static_cast<C>(*x);
    for (size_t i = 0; i < n; ++i) d[i] = cast_value<Out>(op(a, static_cast<C>(y[i])));
  } else if constexpr (S == ScalarOperand::second) {
    const C b = static_cast<C>(*y);
    if constexpr (std::is_same_v<Op, scalar::Power> && std::is_floating_point_v<C> && std::is_same_v<In, C> &&
                  std::is_same_v<Out, C>) {
      if (power_by_multiplication(x, b, d, n)) return;
    }
    for (size_t i = 0; i < n; ++i) d[i] = cast_value<Out>(op(static_cast<C>(x[i]), b));
  } else {
    for (size_t i = 0; i < n; ++i) d[i] = cast_value<Out>(op(static_cast<C>(x[i]), static_cast<C>(y[i])));
  }
}

// When every operand is one value broadcast (a weak scalar's broadcast, or
// a vjp's arithmetic on one), the result is one value too: it gets a
// one-element buffer seen through zero strides, like broadcast_to's output,
// instead of the full size computed element by element. (The vjp of x ** 3
// filled a full array with 3 - 1 and then called std::pow per element.)
inline bool all_single_values(std::initializer_list<const array*> operands, const array& out) {
  if (out.size() <= 1) return false;
  for (const array* a : operands)
    if (a->data_size() != 1) return false;
  return true;
}

template <typename Out>
Out* single_value_output(array& out) {
  Strides zeros(out.ndim(), 0);
  out.set_data(std::make_shared<Data>(cpu_allocator().malloc(out.itemsize())), 1, zeros,
               layout_flags(out.shape(), zeros, false));
  return out.data<Out>();
}

template <typename Op, typename In, typename Out>
void unary_kernel(const array& in, array& out) {
  Op op;
  auto f = [&](In x) { return cast_value<Out>(op(static_cast<compute_t<In>>(x))); };
  if (all_single_values({&in}, out)) {
    *single_value_output<Out>(out) = f(*in.data<In>());
    return;
  }
  if (in.flags().contiguous && in.data_size() == in.size()) {
    allocate_like(in, out, std::is_same_v<In, Out>);
    const In* src = in.data<In>();
    Out* dst = out.data<Out>();
    parallel_for(in.size(), op_cost<Op>(), [&](size_t b, size_t e) { unary_span<Op, In, Out>(src + b, dst + b, e - b); });
    return;
  }
  allocate(out);
  Shape shape = in.shape();
  std::vector<Strides> strides = {in.strides(), out.strides()};
  collapse_dims(shape, strides);
  const In* src = in.data<In>();
  Out* dst = out.data<Out>();
  parallel_for(outer_rows(shape), shape.back() * op_cost<Op>(), [&](size_t b, size_t e) {
    for_each_row_range<2>(shape, strides, b, e, [&](const int64_t* off, int64_t n) {
      int64_t si = strides[0].back();
      const In* s = src + off[0];
      Out* d = dst + off[1];
      for (int64_t i = 0; i < n; ++i) d[i] = f(s[i * si]);
    });
  });
}

template <typename Op, typename In, typename Out>
void binary_kernel(const array& a, const array& b, array& out) {
  Op op;
  using C = compute_t<In>;
  auto f = [&](In x, In y) { return cast_value<Out>(op(static_cast<C>(x), static_cast<C>(y))); };
  constexpr bool donate = std::is_same_v<In, Out>;
  if (all_single_values({&a, &b}, out)) {
    *single_value_output<Out>(out) = f(*a.data<In>(), *b.data<In>());
    return;
  }
  bool a_dense = a.flags().contiguous && a.data_size() == a.size();
  bool b_dense = b.flags().contiguous && b.data_size() == b.size();
  size_t n = out.size();
  if (a_dense && b_dense && a.strides() == b.strides()) {
    if (donate && a.is_donatable()) allocate_like(a, out, true);
    else allocate_like(b, out, donate);
    const In* x = a.data<In>();
    const In* y = b.data<In>();
    Out* d = out.data<Out>();
    parallel_for(n, op_cost<Op>(), [&](size_t s, size_t e) { binary_span<Op, In, Out>(x + s, y + s, d + s, e - s); });
    return;
  }
  if (a.data_size() == 1 && b_dense) {
    allocate_like(b, out, donate);
    const In* x = a.data<In>();
    const In* y = b.data<In>();
    Out* d = out.data<Out>();
    parallel_for(n, op_cost<Op>(), [&](size_t s, size_t e) {
      binary_span<Op, In, Out, ScalarOperand::first>(x, y + s, d + s, e - s);
    });
    return;
  }
  if (b.data_size() == 1 && a_dense) {
    allocate_like(a, out, donate);
    const In* x = a.data<In>();
    const In* y = b.data<In>();
    Out* d = out.data<Out>();
    parallel_for(n, op_cost<Op>(), [&](size_t s, size_t e) {
      binary_span<Op, In, Out, ScalarOperand::second>(x + s, y, d + s, e - s);
    });
    return;
  }
  allocate(out);
  Shape shape = out.shape();
  std::vector<Strides> strides = {a.strides(), b.strides(), out.strides()};
  collapse_dims(shape, strides);
  const In* x = a.data<In>();
  const In* y = b.data<In>();
  Out* dst = out.data<Out>();
  parallel_for(outer_rows(shape), shape.back() * op_cost<Op>(), [&](size_t s, size_t e) {
    for_each_row_range<3>(shape, strides, s, e, [&](const int64_t* off, int64_t len) {
      int64_t sa = strides[0].back(), sb = strides[1].back();
      const In* xp = x + off[0];
      const In* yp = y + off[1];
      Out* d = dst + off[2];
      if (sa == 1 && sb == 1) {
        for (int64_t i = 0; i < len; ++i) d[i] = f(xp[i], yp[i]);
      } else if (sa == 0) {
        for (int64_t i = 0; i < len; ++i) d[i] = f(*xp, yp[i * sb]);
      } else if (sb == 0) {
        for (int64_t i = 0; i < len; ++i) d[i] = f(xp[i * sa], *yp);
      } else {
        for (int64_t i = 0; i < len; ++i) d[i] = f(xp[i * sa], yp[i * sb]);
      }
    });
  });
}

// Dispatch over an op's kernel type set (the op tables' third column).
template <typename F>
decltype(auto) dispatch_set_All(Dtype t, F&& f) { return dispatch_all(t, f); }
template <typename F>
decltype(auto) dispatch_set_Real(Dtype t, F&& f) { return dispatch_real(t, f); }
template <typename F>
decltype(auto) dispatch_set_Inexact(Dtype t, F&& f) { return dispatch_inexact(t, f); }
template <typename F>
decltype(auto) dispatch_set_Float(Dtype t, F&& f) { return dispatch_float(t, f); }
template <typename F>
decltype(auto) dispatch_set_Integral(Dtype t, F&& f) { return dispatch_integral(t, f); }
template <typename F>
decltype(auto) dispatch_set_Complex(Dtype t, F&& f) {
  if (t != complex64) unsupported_dtype("dispatch", t);
  return f(TypeTag<complex64_t>{});
}


}  // namespace LMX_ISA_NS
}  // namespace lmx::cpu
