// Elementwise kernel templates, instantiated from the op tables
// (primitives/elementwise_table.h) over the scalar functors that the CPU
// kernels use too (backend/common/elementwise_ops.h): one definition of each
// op for both backends. A flat, vectorised kernel serves operands that share
// a dense layout; a strided kernel serves broadcasts and views.
#pragma once

#include "lmx/backend/common/elementwise_ops.h"
#include "lmx/backend/cuda/device_util.cuh"
#include "lmx/backend/cuda/kernels.h"

#include <algorithm>
#include <utility>

namespace lmx::cu {

template <int V, typename F, typename Out, typename... VIn>
__device__ inline void apply_vec(const F& f, Vec<Out, V>& o, const VIn&... v) {
#pragma unroll
  for (int k = 0; k < V; ++k) o.v[k] = f(v.v[k]...);
}

// Operand k's V elements at vector index j; a broadcast scalar operand
// (bit k of `scalars`) repeats its one element.
template <int V, typename T>
__device__ inline Vec<T, V> load_vec(const T* p, int64_t j, bool scalar) {
  if (scalar) {
    Vec<T, V> v;
    T x = p[0];
#pragma unroll
    for (int k = 0; k < V; ++k) v.v[k] = x;
    return v;
  }
  return reinterpret_cast<const Vec<T, V>*>(p)[j];
}

template <int V, typename F, typename Out, size_t... I, typename... In>
__device__ inline void dense_step(const F& f, Out* out, int64_t j, unsigned scalars, std::index_sequence<I...>,
                                  const In*... in) {
  Vec<Out, V> o;
  apply_vec<V>(f, o, load_vec<V>(in, j, (scalars >> I) & 1u)...);
  reinterpret_cast<Vec<Out, V>*>(out)[j] = o;
}

template <typename F, size_t... I, typename... In>
__device__ inline auto scalar_step(const F& f, int64_t i, unsigned scalars, std::index_sequence<I...>,
                                   const In*... in) {
  return f(in[((scalars >> I) & 1u) ? 0 : i]...);
}

// out[i] = f(in_0[i], ..., in_{N-1}[i]) over dense operands (or broadcast
// scalars: bit k of `scalars`), V elements per thread step through aligned
// vector accesses; the tail goes one by one.
template <typename F, typename Out, int V, typename... In>
__global__ void map_dense(F f, Out* __restrict__ out, int64_t n, unsigned scalars, const In* __restrict__... in) {
  auto seq = std::index_sequence_for<In...>{};
  int64_t nv = n / V;
  LMX_GRID_STRIDE(j, nv) dense_step<V>(f, out, j, scalars, seq, in...);
  LMX_GRID_STRIDE(t, n - nv * V) {
    int64_t i = nv * V + t;
    out[i] = scalar_step(f, i, scalars, seq, in...);
  }
}

template <typename F, int N, size_t... I, typename... In>
__device__ inline auto call_at(const F& f, const int64_t (&off)[N], std::index_sequence<I...>, const In*... in) {
  return f(in[off[I]]...);
}

// The same over any strided layout (operand offsets first, output last).
template <typename F, typename Out, int N, typename... In>
__global__ void map_strided(F f, Out* __restrict__ out, Layout<N> L, int64_t n, const In* __restrict__... in) {
  LMX_GRID_STRIDE(i, n) {
    int64_t off[N];
    strided_offsets(L, i, off);
    out[off[N - 1]] = call_at(f, off, std::index_sequence_for<In...>{}, in...);
  }
}

template <typename Out, typename F, int N, size_t... I, typename... In>
void launch_strided(const F& f, Out* o, const Layout<N>& L, const int64_t* base, int64_t m, cudaStream_t st,
                    std::index_sequence<I...>, const In*... in) {
  map_strided<F, Out, N><<<blocks_for(m), kThreads, 0, st>>>(f, o + base[N - 1], L, m, (in + base[I])...);
}

// Runs f elementwise into out (allocated): flat when every operand is dense
// in out's layout, otherwise strided. Operands come as (array, device data).
template <typename Out, typename F, typename... In>
void launch_map(const F& f, array& out, cudaStream_t st, std::pair<const array*, const In*>... in) {
  int64_t n = static_cast<int64_t>(out.size());
  if (n == 0) return;
  Out* o = static_cast<Out*>(device_write(out));
  constexpr int V = std::min({vec_width<Out>(), vec_width<In>()...});
  // Operands dense in out's layout, or single elements broadcast over it.
  unsigned scalars = 0, k = 0;
  bool dense = out.flags().contiguous && out.data_size() == out.size();
  ((scalars |= (in.first->data_size() == 1 ? 1u : 0u) << k++), ...);
  k = 0;
  ((dense = dense && (((scalars >> k++) & 1u) || same_dense_layout(*in.first, out))), ...);
  bool aligned = aligned_to(o, sizeof(Out) * V);
  k = 0;
  ((aligned = aligned && (((scalars >> k++) & 1u) || aligned_to(in.second, sizeof(In) * V))), ...);
  if (dense && aligned) {
    map_dense<F, Out, V><<<blocks_for(n / V + 1), kThreads, 0, st>>>(f, o, n, scalars, in.second...);
  } else if (dense) {
    map_dense<F, Out, 1><<<blocks_for(n), kThreads, 0, st>>>(f, o, n, scalars, in.second...);
  } else {
    constexpr int N = sizeof...(In) + 1;
    for_each_layout<N>(out.shape(), {in.first->strides()..., out.strides()}, [&](const Layout<N>& L, const int64_t* base) {
      int64_t m = 1;
      for (int d = 0; d < L.ndim; ++d) m *= L.shape[d];
      launch_strided<Out>(f, o, L, base, m, st, std::index_sequence_for<In...>{}, in.second...);
    });
  }
  LMX_CUDA_CHECK(cudaGetLastError());
}

// An op table's kernel type set as a type (see kernel_set).
#define LMX_KERNEL_SET(Name) \
  struct KernelSet_##Name {  \
    template <typename T>    \
    static constexpr bool has = kernel_set<T>::Name; \
  };
LMX_KERNEL_SET(All)
LMX_KERNEL_SET(Real)
LMX_KERNEL_SET(Inexact)
LMX_KERNEL_SET(Float)
LMX_KERNEL_SET(Integral)
LMX_KERNEL_SET(Complex)
#undef LMX_KERNEL_SET

template <typename Op, typename In, typename Out>
struct UnaryFn {
  __device__ Out operator()(In x) const { return cast_value<Out>(Op{}(static_cast<compute_t<In>>(x))); }
};

template <typename Op, typename In, typename Out>
struct BinaryFn {
  __device__ Out operator()(In x, In y) const {
    return cast_value<Out>(Op{}(static_cast<compute_t<In>>(x), static_cast<compute_t<In>>(y)));
  }
};

template <typename T>
struct SelectFn {
  __device__ T operator()(bool c, T x, T y) const { return c ? x : y; }
};

}  // namespace lmx::cu
