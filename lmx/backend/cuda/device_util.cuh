// Device-side helpers shared by the backend's kernels: strided offsets,
// grid-stride loops, vector loads and the host-side layout builder.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

#include "lmx/backend/common/cast.h"
#include "lmx/backend/common/dispatch.h"
#include "lmx/backend/common/strided.h"
#include "lmx/backend/cuda/cuda.h"

namespace lmx::cu {

// The device side of a dependent launch (cuda.h, launch_dependent), first
// thing in such a kernel: wait for the kernel before on the stream (its
// writes visible), then let the next kernel start. Before sm_90 there is
// nothing to wait for.
__device__ __forceinline__ void pdl_begin() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// A kernel launched dependent (cuda.h): it must begin with pdl_begin().
template <typename... Params, typename... Args>
void launch_dependent(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t st,
                      Args&&... args) {
  std::tuple<Params...> values{std::forward<Args>(args)...};
  void* ptrs[sizeof...(Params) > 0 ? sizeof...(Params) : 1];
  std::apply([&](auto&... v) {
    int i = 0;
    ((ptrs[i++] = static_cast<void*>(&v)), ...);
  }, values);
  launch_dependent(reinterpret_cast<const void*>(kernel), grid, block, smem, st, ptrs);
}


#define LMX_GRID_STRIDE(i, n)                                                         \
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < (n);           \
       i += int64_t{gridDim.x} * blockDim.x)

// Element offsets of linear index i in each of the N operands.
template <int N>
__device__ inline void strided_offsets(const Layout<N>& L, int64_t i, int64_t (&off)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = L.ndim - 1; d >= 0; --d) {
    int64_t c = i % L.shape[d];
    i /= L.shape[d];
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += c * L.strides[k][d];
  }
}

// V elements moved as one aligned access.
template <typename T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

// Elements per vector access for element type T (16-byte loads).
template <typename T>
constexpr int vec_width() {
  return sizeof(T) >= 16 ? 1 : static_cast<int>(16 / sizeof(T));
}

// Conversions of the GPU's float types to and from float with the
// hardware's instructions (the storage types' own are portable C++).
__device__ inline float to_float(float v) { return v; }
__device__ inline float to_float(bfloat16_t v) { return __uint_as_float(static_cast<uint32_t>(v.bits) << 16); }
__device__ inline float to_float(float16_t v) { return __half2float(__ushort_as_half(v.bits)); }
template <typename T>
__device__ inline T from_float(float v) {
  if constexpr (std::is_same_v<T, float16_t>) return float16_t::from_bits(__half_as_ushort(__float2half_rn(v)));
  else return T(v);
}

// Eight consecutive values as floats, from a 16-byte-aligned address.
template <typename T>
__device__ inline void load8_float(const T* __restrict__ p, float (&x)[8]) {
  if constexpr (std::is_same_v<T, float>) {
    float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
    x[0] = a.x, x[1] = a.y, x[2] = a.z, x[3] = a.w, x[4] = b.x, x[5] = b.y, x[6] = b.z, x[7] = b.w;
  } else {
    static_assert(sizeof(T) == 2, "16-bit float types");
    Vec<T, 8> v = *reinterpret_cast<const Vec<T, 8>*>(p);
#pragma unroll
    for (int i = 0; i < 8; ++i) x[i] = to_float(v.v[i]);
  }
}

inline bool aligned_to(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// The walk of dims [first, end) of `shape` over N operands as a kernel
// Layout (at most kMaxDims of them).
template <int N>
Layout<N> layout_of(const Shape& shape, const std::vector<Strides>& strides, int first = 0) {
  Layout<N> L;
  L.ndim = static_cast<int>(shape.size()) - first;
  for (int d = 0; d < L.ndim; ++d) {
    L.shape[d] = shape[first + d];
    for (int k = 0; k < N; ++k) L.strides[k][d] = strides[k][first + d];
  }
  return L;
}

// The same after collapsing dims; false when more than kMaxDims remain.
template <int N>
bool collapsed_layout(Shape shape, std::vector<Strides> strides, Layout<N>& L) {
  collapse_dims(shape, strides);
  if (static_cast<int>(shape.size()) > kMaxDims) return false;
  L = layout_of<N>(shape, strides);
  return true;
}

// Calls launch(layout, base_offsets) for the strided walk of `shape` over N
// operands, peeling leading dimensions on the host past kMaxDims.
template <int N, typename Launch>
void for_each_layout(Shape shape, std::vector<Strides> strides, Launch&& launch) {
  collapse_dims(shape, strides);
  std::vector<int64_t> base(N, 0);
  auto rec = [&](auto& self, int first) -> void {
    if (static_cast<int>(shape.size()) - first <= kMaxDims) {
      launch(layout_of<N>(shape, strides, first), base.data());
      return;
    }
    for (int64_t i = 0; i < shape[first]; ++i) {
      for (int k = 0; k < N; ++k) base[k] += i * strides[k][first];
      self(self, first + 1);
      for (int k = 0; k < N; ++k) base[k] -= i * strides[k][first];
    }
  };
  rec(rec, 0);
}

// Warp shuffle of any trivially copyable value of up to 8 bytes.
template <typename T>
__device__ inline T shfl_down(T v, int delta) {
  if constexpr (sizeof(T) == 8) {
    unsigned long long u;
    memcpy(&u, &v, 8);
    u = __shfl_down_sync(0xffffffffu, u, delta);
    memcpy(&v, &u, 8);
    return v;
  } else if constexpr (sizeof(T) == 4) {
    unsigned u;
    memcpy(&u, &v, 4);
    u = __shfl_down_sync(0xffffffffu, u, delta);
    memcpy(&v, &u, 4);
    return v;
  } else {
    unsigned u = 0;
    memcpy(&u, &v, sizeof(T));
    u = __shfl_down_sync(0xffffffffu, u, delta);
    memcpy(&v, &u, sizeof(T));
    return v;
  }
}

// ---- matrix-vector kernels (gemv.cu, quantized.cu) ----
// A block of `Threads` threads is warp groups of warps_k warps; each group
// owns R output rows and its warps split the rows' chunks.

// How many warps split a row of `chunks` chunks: up to 4, while each lane
// still gets two or more chunks.
inline int split_k_warps(int64_t chunks) { return chunks >= 4 * 64 ? 4 : chunks >= 2 * 64 ? 2 : 1; }

// The epilogue: acc[i][r] summed over each warp, then over its group's warps;
// store(i, r, sum) runs once per (i, r), in the group's first warp.
template <int Threads, int MR, int R, typename Store>
__device__ inline void sum_split_rows(const float (&acc)[MR][R], int warps_k, Store&& store) {
  __shared__ float partial[Threads / 32][MR * R];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int i = 0; i < MR; ++i)
#pragma unroll
    for (int r = 0; r < R; ++r) {
      float v = acc[i][r];
      for (int d = 16; d > 0; d /= 2) v += __shfl_down_sync(0xffffffffu, v, d);
      if (lane == 0) partial[warp][i * R + r] = v;
    }
  __syncthreads();
  if (warp % warps_k == 0 && lane < MR * R) {
    float v = 0.0f;
    for (int k = 0; k < warps_k; ++k) v += partial[warp + k][lane];
    store(lane / R, lane % R, v);
  }
}

// Reduces v over the block; thread 0 gets the result.
template <typename Acc, typename Op>
__device__ inline Acc block_reduce(Acc v, Op op) {
  __shared__ Acc warp_results[kThreads / 32];
  for (int d = 16; d > 0; d /= 2) v = op(v, shfl_down(v, d));
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_results[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x / 32) ? warp_results[lane] : Op::init();
    for (int d = 16; d > 0; d /= 2) v = op(v, shfl_down(v, d));
  }
  __syncthreads();  // warp_results may be reused by the next row
  return v;
}

// Dense and laid out like `like`: elementwise ops can run flat over both.
inline bool same_dense_layout(const array& a, const array& like) {
  return a.flags().contiguous && a.data_size() == a.size() && a.strides() == like.strides();
}

// The dtypes the GPU kernels are built for (float64 is CPU-only, complex64
// runs on the host for now).
template <typename F>
bool dispatch_gpu(Dtype t, F&& f) {
  switch (t.val()) {
    case Dtype::Val::bool_: f(TypeTag<bool>{}); return true;
    case Dtype::Val::uint8: f(TypeTag<uint8_t>{}); return true;
    case Dtype::Val::uint16: f(TypeTag<uint16_t>{}); return true;
    case Dtype::Val::uint32: f(TypeTag<uint32_t>{}); return true;
    case Dtype::Val::uint64: f(TypeTag<uint64_t>{}); return true;
    case Dtype::Val::int8: f(TypeTag<int8_t>{}); return true;
    case Dtype::Val::int16: f(TypeTag<int16_t>{}); return true;
    case Dtype::Val::int32: f(TypeTag<int32_t>{}); return true;
    case Dtype::Val::int64: f(TypeTag<int64_t>{}); return true;
    case Dtype::Val::float16: f(TypeTag<float16_t>{}); return true;
    case Dtype::Val::bfloat16: f(TypeTag<bfloat16_t>{}); return true;
    case Dtype::Val::float32: f(TypeTag<float>{}); return true;
    default: return false;
  }
}

// The float types with GPU kernels: calls f(TypeTag<T>{}) for float32,
// float16 and bfloat16; false for any other dtype.
template <typename F>
bool dispatch_gpu_float(Dtype t, F&& f) {
  if (t == float32) return f(TypeTag<float>{}), true;
  if (t == float16) return f(TypeTag<float16_t>{}), true;
  if (t == bfloat16) return f(TypeTag<bfloat16_t>{}), true;
  return false;
}

}  // namespace lmx::cu
