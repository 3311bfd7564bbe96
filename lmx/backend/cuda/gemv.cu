// Matrix-vector products for the decode regime: a few rows of x against a
// weight whose rows of K values are contiguous (x @ w.T, as nn.Linear
// computes). cuBLAS spends more host time choosing and launching a kernel
// for such a product than the GPU spends streaming the weight, so these run
// as one kernel that reads each weight row once: lanes take 8-value chunks
// (one 16-byte load for 16-bit types), R rows per warp share the x loads,
// and a block's warps split long rows.
#include "lmx/backend/cuda/device_util.cuh"
#include "lmx/backend/cuda/kernels.h"

namespace lmx::cu {

namespace {

constexpr int kGemvThreads = 128;

// Eight values of T as raw 16-byte words (one for 16-bit types, two for
// float), converted only when used: a lane can keep U x R of them in flight
// without the registers of their float forms.
template <typename T>
struct Raw8 {
  uint4 words[sizeof(T) / 2];
};

template <typename T>
__device__ inline void load_raw8(const T* __restrict__ p, Raw8<T>& r) {
#pragma unroll
  for (int i = 0; i < static_cast<int>(sizeof(T) / 2); ++i) r.words[i] = reinterpret_cast<const uint4*>(p)[i];
}

template <typename T>
__device__ inline void raw8_to_float(const Raw8<T>& r, float (&x)[8]) {
  if constexpr (std::is_same_v<T, float>) {
    memcpy(x, r.words, sizeof(x));
  } else {
    Vec<T, 8> v;
    memcpy(&v, r.words, sizeof(v));
#pragma unroll
    for (int j = 0; j < 8; ++j) x[j] = to_float(v.v[j]);
  }
}

// y[i, n] = sum_k x[i, k] w[n, k] for rows n0 .. n0 + R and i < m <= MR.
// Each lane issues the loads of U chunks per row before it uses any.
template <typename T, int MR, int R, int U>
__global__ void __launch_bounds__(kGemvThreads) gemv_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                                            T* __restrict__ y, int m, int64_t k, int64_t n,
                                                            int warps_k) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int wk = warp % warps_k, wn = warp / warps_k, warps_n = kGemvThreads / 32 / warps_k;
  const int64_t n0 = (int64_t{blockIdx.x} * warps_n + wn) * R;
  const int64_t chunks = k / 8, step = int64_t{warps_k} * 32;
  float acc[MR][R] = {};
  if (n0 < n) {
    for (int64_t c0 = wk * 32 + lane; c0 < chunks; c0 += U * step) {
      Raw8<T> raw[U][R];
#pragma unroll
      for (int u = 0; u < U; ++u)
#pragma unroll
        for (int r = 0; r < R; ++r)
          if (c0 + u * step < chunks) load_raw8(w + (n0 + r < n ? n0 + r : n0) * k + (c0 + u * step) * 8, raw[u][r]);
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int64_t c = c0 + u * step;
        if (c >= chunks) break;
        float wv[R][8];
#pragma unroll
        for (int r = 0; r < R; ++r) raw8_to_float(raw[u][r], wv[r]);
#pragma unroll
        for (int i = 0; i < MR; ++i) {
          if (i < m) {
            float xv[8];
            load8_float(x + i * k + c * 8, xv);
#pragma unroll
            for (int r = 0; r < R; ++r)
#pragma unroll
              for (int j = 0; j < 8; ++j) acc[i][r] = fmaf(wv[r][j], xv[j], acc[i][r]);
          }
        }
      }
    }
  }
  sum_split_rows<kGemvThreads>(acc, warps_k, [&](int i, int r, float v) {
    if (i < m && n0 + r < n) y[i * n + n0 + r] = from_float<T>(v);
  });
}

}  // namespace

bool gemv(const array& a, const array& b, array& out, cudaStream_t st) {
  const Dtype t = out.dtype();
  if (t != float32 && t != float16 && t != bfloat16) return false;
  if (a.dtype() != t || b.dtype() != t) return false;
  const int64_t k = a.shape(-1), n = b.shape(-1);
  const int64_t m = k ? static_cast<int64_t>(a.size()) / k : 0;  // a's batch dims fold into its rows
  // The weight must be w.T of one row-contiguous (n, k) w, 16-byte aligned.
  if (m < 1 || m > kGemvMaxRows || k % 8 != 0 || n == 0 || !is_shared_transposed_weight(b)) return false;
  array x = row_contiguous(a, st);
  const void* xp = device_read(x, st);
  const void* wp = device_read(b, st);
  if (!aligned_to(xp, 16) || !aligned_to(wp, 16)) return false;
  allocate(out, st);
  const int64_t chunks = k / 8;
  const int warps_k = split_k_warps(chunks);
  dispatch_gpu_float(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    // Blocks of kGemvThreads threads for n rows at R rows per warp group.
    auto blocks_for_rows = [&](int R) {
      const int64_t rows_per_block = kGemvThreads / 32 / warps_k * R;
      return (n + rows_per_block - 1) / rows_per_block;
    };
    auto launch = [&](auto mr, auto r, auto u) {
      constexpr int MR = decltype(mr)::value, R = decltype(r)::value, U = decltype(u)::value;
      const auto grid = static_cast<unsigned>(blocks_for_rows(R));
      gemv_kernel<T, MR, R, U><<<grid, kGemvThreads, 0, st>>>(static_cast<const T*>(xp), static_cast<const T*>(wp),
                                                              static_cast<T*>(device_write(out)),
                                                              static_cast<int>(m), k, n, warps_k);
    };
    using std::integral_constant;
    if (m > 1) return launch(integral_constant<int, kGemvMaxRows>{}, integral_constant<int, 2>{},
                             integral_constant<int, 1>{});
    // Chunks in flight per lane, measured on an H100 over Qwen3-4B's shapes
    // (weights not in L2): a grid of under four blocks per multiprocessor
    // has too few warps to cover memory latency, so each loads four chunks
    // ahead (2560x1024: 7.6 -> 5.8 us); lanes with four or more chunks of a
    // row gain from two (9728x2560: 24.2 -> 22.1 us); the rest, one.
    if (blocks_for_rows(4) < 4 * int64_t{device_props().multiProcessorCount})
      launch(integral_constant<int, 1>{}, integral_constant<int, 4>{}, integral_constant<int, 4>{});
    else if (chunks >= 4 * 32 * int64_t{warps_k})
      launch(integral_constant<int, 1>{}, integral_constant<int, 4>{}, integral_constant<int, 2>{});
    else
      launch(integral_constant<int, 1>{}, integral_constant<int, 4>{}, integral_constant<int, 1>{});
  });
  LMX_CUDA_CHECK(cudaGetLastError());
  return true;
}

}  // namespace lmx::cu
