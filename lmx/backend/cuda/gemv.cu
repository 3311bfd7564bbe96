// Matrix-vector products for the decode regime: a few rows of x against a
// weight whose rows of K values are contiguous (x @ w.T, as nn.Linear
// computes). cuBLAS spends more host time choosing and launching a kernel
// for such a product than the GPU spends streaming the weight, so these run
// as one kernel that reads each weight row once: lanes take 8-value chunks
// (one 16-byte load for 16-bit types), R rows per warp share the x loads,
// and a block's warps split long rows.
#include "lmx/backend/cuda/device_util.cuh"
#include "lmx/backend/cuda/kernels.h"
#include "lmx/primitives/linalg.h"

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

// Up to kMaxGemvWeights weights sharing x, each with its output and row
// count; the grid's blocks are dealt to them in order (weight s owns blocks
// [first_block[s], first_block[s + 1])).
constexpr int kMaxGemvWeights = MatmulGroup::kMaxMatrices;
template <typename T>
struct GemvWeights {
  const T* w[kMaxGemvWeights];
  T* y[kMaxGemvWeights];
  int64_t n[kMaxGemvWeights];
  int64_t first_block[kMaxGemvWeights + 1];
  int count;
};

// y[i, n] = sum_k x[i, k] w[n, k] for rows n0 .. n0 + R and i < m <= MR of
// the block's weight. Each lane issues the loads of U chunks per row before
// it uses any.
template <typename T, int MR, int R, int U>
__global__ void __launch_bounds__(kGemvThreads) gemv_kernel(const T* __restrict__ x, GemvWeights<T> ws, int m,
                                                            int64_t k, int warps_k) {
  pdl_begin();
  int s = 0;
  while (s + 1 < ws.count && blockIdx.x >= ws.first_block[s + 1]) ++s;
  const T* __restrict__ w = ws.w[s];
  T* __restrict__ y = ws.y[s];
  const int64_t n = ws.n[s];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int wk = warp % warps_k, wn = warp / warps_k, warps_n = kGemvThreads / 32 / warps_k;
  const int64_t n0 = ((int64_t{blockIdx.x} - ws.first_block[s]) * warps_n + wn) * R;
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

bool gemv_group(const array& a, const std::vector<array>& bs, std::vector<array>& outs, cudaStream_t st) {
  const Dtype t = a.dtype();
  if (t != float32 && t != float16 && t != bfloat16) return false;
  if (bs.empty() || bs.size() > kMaxGemvWeights || bs.size() != outs.size()) return false;
  const int64_t k = a.shape(-1);
  const int64_t m = k ? static_cast<int64_t>(a.size()) / k : 0;  // a's batch dims fold into its rows
  if (m < 1 || m > kGemvMaxRows || k % 8 != 0) return false;
  // Each weight must be w.T of one row-contiguous (n, k) w, 16-byte aligned.
  for (size_t s = 0; s < bs.size(); ++s) {
    const array& b = bs[s];
    if (b.dtype() != t || outs[s].dtype() != t || b.shape(-2) != k || b.shape(-1) == 0 ||
        !is_shared_transposed_weight(b))
      return false;
  }
  array x = row_contiguous(a, st);
  const void* xp = device_read(x, st);
  if (!aligned_to(xp, 16)) return false;
  std::vector<const void*> wps;
  for (const array& b : bs) {
    wps.push_back(device_read(b, st));
    if (!aligned_to(wps.back(), 16)) return false;
  }
  for (array& out : outs) allocate(out, st);
  const int64_t chunks = k / 8;
  const int warps_k = split_k_warps(chunks);
  dispatch_gpu_float(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    // Blocks of kGemvThreads threads at R rows per warp group, dealt to the weights in order.
    auto deal = [&](int R) {
      GemvWeights<T> ws{};
      ws.count = static_cast<int>(bs.size());
      const int64_t rows_per_block = kGemvThreads / 32 / warps_k * R;
      for (int s = 0; s < ws.count; ++s) {
        const int64_t n = bs[s].shape(-1);
        ws.w[s] = static_cast<const T*>(wps[s]);
        ws.y[s] = static_cast<T*>(device_write(outs[s]));
        ws.n[s] = n;
        ws.first_block[s + 1] = ws.first_block[s] + (n + rows_per_block - 1) / rows_per_block;
      }
      return ws;
    };
    auto launch = [&](auto mr, auto r, auto u) {
      constexpr int MR = decltype(mr)::value, R = decltype(r)::value, U = decltype(u)::value;
      const GemvWeights<T> ws = deal(R);
      launch_dependent(gemv_kernel<T, MR, R, U>, static_cast<unsigned>(ws.first_block[ws.count]), kGemvThreads, 0,
                       st, static_cast<const T*>(xp), ws, static_cast<int>(m), k, warps_k);
    };
    using std::integral_constant;
    if (m > 1) return launch(integral_constant<int, kGemvMaxRows>{}, integral_constant<int, 2>{},
                             integral_constant<int, 1>{});
    // Chunks in flight per lane, measured on an H100 over Qwen3-4B's shapes
    // (weights not in L2): a grid of under four blocks per multiprocessor
    // has too few warps to cover memory latency, so each loads four chunks
    // ahead (2560x1024: 7.6 -> 5.8 us); lanes with four or more chunks of a
    // row gain from two (9728x2560: 24.2 -> 22.1 us); the rest, one.
    if (deal(4).first_block[bs.size()] < 4 * int64_t{device_props().multiProcessorCount})
      launch(integral_constant<int, 1>{}, integral_constant<int, 4>{}, integral_constant<int, 4>{});
    else if (chunks >= 4 * 32 * int64_t{warps_k})
      launch(integral_constant<int, 1>{}, integral_constant<int, 4>{}, integral_constant<int, 2>{});
    else
      launch(integral_constant<int, 1>{}, integral_constant<int, 4>{}, integral_constant<int, 1>{});
  });
  LMX_CUDA_CHECK(cudaGetLastError());
  return true;
}

bool gemv(const array& a, const array& b, array& out, cudaStream_t st) {
  std::vector<array> outs{out};
  return out.dtype() == a.dtype() && gemv_group(a, {b}, outs, st);
}

}  // namespace lmx::cu
