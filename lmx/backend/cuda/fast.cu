// Fused mx.fast kernels on the GPU: rms_norm and layer_norm (one to eight
// warps per row for rows that fit in their registers, else a block per row),
// computed in float32 and rounded once (as the CPU kernels).
#include <algorithm>

#include "lmx/backend/cuda/device_util.cuh"
#include "lmx/backend/cuda/kernels.h"

namespace lmx::cu {

namespace {

struct SumF {
  __device__ static float init() { return 0.0f; }
  __device__ float operator()(float a, float b) const { return a + b; }
};

// The block's sum, returned to every thread.
__device__ inline float block_sum(float v) {
  __shared__ float total;
  v = block_reduce<float>(v, SumF{});
  if (threadIdx.x == 0) total = v;
  __syncthreads();
  float t = total;
  __syncthreads();
  return t;
}

template <typename T>
__global__ void rms_norm_kernel(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ y, int64_t rows,
                                int64_t d, float eps) {
  pdl_begin();
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * d;
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
      float v = static_cast<float>(xr[i]);
      ss += v * v;
    }
    float r = 1.0f / sqrtf(block_sum(ss) / static_cast<float>(d) + eps);
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
      y[row * d + i] = T(static_cast<float>(xr[i]) * r * static_cast<float>(w[i]));
  }
}

// Rows of at most kNormGroupChunks * 8 * 256 values (d % 8 == 0, 16-byte
// aligned) go to a group of `group` warps (1, 2, 4 or 8; a block holds 8 / group
// rows): each lane keeps its eight-value chunks in registers, so the row is
// read once, and the sums take shuffles plus, across the group's warps, one
// exchange through shared memory. The block-per-row kernels below read each
// row twice and reduce over 256 threads however short the row: for decode's
// short rows (a 2560-wide hidden state, 128-wide heads) that costs more than
// the arithmetic.
constexpr int kNormGroupChunks = 4;  // chunks per lane, at most

// With Residual, the row is x + res, rounded to T and written to `sum` (the
// value the norm then reads, as the add primitive would have stored it).
template <typename T, bool Layer, bool Residual = false>
__global__ void __launch_bounds__(kThreads) norm_rows_group_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                                                   const T* __restrict__ b, T* __restrict__ y,
                                                                   int64_t rows, int64_t d, int group, float eps,
                                                                   const T* __restrict__ res = nullptr,
                                                                   T* __restrict__ sum_out = nullptr) {
  constexpr int J = kNormGroupChunks;
  __shared__ float partial[kThreads / 32];
  pdl_begin();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int rows_per_block = kThreads / 32 / group, lead = warp - warp % group;
  const int g_lane = (warp % group) * 32 + lane, g_threads = group * 32;
  const int64_t chunks = d / 8;
  const float inv_d = 1.0f / static_cast<float>(d);
  // The sum of s over the row's group of warps, in every thread of the group.
  auto group_sum = [&](float s) {
    for (int o = 16; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (group == 1) return s;
    __syncthreads();  // partial may still be read for the previous sum
    if (lane == 0) partial[warp] = s;
    __syncthreads();
    s = 0.0f;
    for (int k = 0; k < group; ++k) s += partial[lead + k];
    return s;
  };
  // Every thread of the block runs every iteration: group_sum synchronises the block.
  for (int64_t row0 = int64_t{blockIdx.x} * rows_per_block; row0 < rows; row0 += int64_t{gridDim.x} * rows_per_block) {
    const int64_t row = row0 + warp / group;
    const bool live = row < rows;
    const T* xr = x + (live ? row : 0) * d;
    float v[J][8];
    float sum = 0.0f;
#pragma unroll
    for (int j = 0; j < J; ++j) {
      const int64_t c = g_lane + int64_t{g_threads} * j;
      if (live && c < chunks) {
        load8_float(xr + c * 8, v[j]);
        if constexpr (Residual) {
          float rv[8];
          load8_float(res + row * d + c * 8, rv);
          Vec<T, 8> s;
#pragma unroll
          for (int e = 0; e < 8; ++e) s.v[e] = from_float<T>(v[j][e] + rv[e]), v[j][e] = to_float(s.v[e]);
          *reinterpret_cast<Vec<T, 8>*>(sum_out + row * d + c * 8) = s;
        }
      } else
#pragma unroll
        for (int e = 0; e < 8; ++e) v[j][e] = 0.0f;
    }
#pragma unroll
    for (int j = 0; j < J; ++j)
#pragma unroll
      for (int e = 0; e < 8; ++e) sum += Layer ? v[j][e] : v[j][e] * v[j][e];
    sum = group_sum(sum);
    float mu = 0.0f;
    if constexpr (Layer) {
      mu = sum * inv_d;
      float ss = 0.0f;
#pragma unroll
      for (int j = 0; j < J; ++j)
        if (g_lane + int64_t{g_threads} * j < chunks)
#pragma unroll
          for (int e = 0; e < 8; ++e) ss += (v[j][e] - mu) * (v[j][e] - mu);
      sum = group_sum(ss);
    }
    const float r = 1.0f / sqrtf(sum * inv_d + eps);
#pragma unroll
    for (int j = 0; j < J; ++j) {
      const int64_t c = g_lane + int64_t{g_threads} * j;
      if (live && c < chunks) {
        float wv[8], bv[8] = {};
        load8_float(w + c * 8, wv);
        if constexpr (Layer) load8_float(b + c * 8, bv);
        Vec<T, 8> out;
#pragma unroll
        for (int e = 0; e < 8; ++e) out.v[e] = from_float<T>((v[j][e] - mu) * r * wv[e] + bv[e]);
        *reinterpret_cast<Vec<T, 8>*>(y + row * d + c * 8) = out;
      }
    }
  }
}

template <typename T>
__global__ void layer_norm_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                                  T* __restrict__ y, int64_t rows, int64_t d, float eps) {
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * d;
    float s = 0.0f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) s += static_cast<float>(xr[i]);
    float mu = block_sum(s) / static_cast<float>(d);
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
      float c = static_cast<float>(xr[i]) - mu;
      ss += c * c;
    }
    float r = 1.0f / sqrtf(block_sum(ss) / static_cast<float>(d) + eps);
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
      y[row * d + i] = T((static_cast<float>(xr[i]) - mu) * r * static_cast<float>(w[i]) + static_cast<float>(b[i]));
  }
}

// RoPE over x viewed as (B, M, T, D) (M: the dims between the batch and the
// positions, heads in an attention layer) with unit feature stride and any
// (B, M, T) strides, so the transposed q and k views an attention layer hands
// over are read where they lie; the output is row-contiguous. A thread takes
// one (batch, position, feature pair) for up to kRopeHeads of the M rows,
// which share its angle: one sincos serves them all. Pair j of the first
// `dims` features rotates by (offset + position) * scale * inv_freq[j]; a
// thread past the pairs copies one of the features past `dims`.
struct RopeArgs {
  int64_t batch, heads, t, d;  // B, M, T, D
  int64_t xs[3];               // strides of B, M and T
  int dims;
  bool traditional, per_batch_offsets;
  int32_t offset_value;  // the offset when none comes from device memory
  float scale;
};
constexpr int kRopeHeads = 8;

template <typename T>
__global__ void rope_kernel(const T* __restrict__ x, T* __restrict__ y, const int32_t* __restrict__ offsets,
                            const float* __restrict__ inv_freq, RopeArgs a) {
  pdl_begin();
  const int half = a.dims / 2;
  const int64_t width = half + (a.d - a.dims), groups = (a.heads + kRopeHeads - 1) / kRopeHeads;
  LMX_GRID_STRIDE(e, a.batch * groups * a.t * width) {
    const int64_t w = e % width, p = (e / width) % a.t, group = (e / width / a.t) % groups;
    const int64_t b = e / width / a.t / groups;
    const int64_t m0 = group * kRopeHeads, m1 = m0 + kRopeHeads < a.heads ? m0 + kRopeHeads : a.heads;
    const T* src = x + b * a.xs[0] + p * a.xs[2];
    T* dst = y + (b * a.heads * a.t + p) * a.d;
    const int64_t out_head = a.t * a.d;
    if (w >= half) {  // a feature past `dims` passes through
      const int64_t i = a.dims + (w - half);
      for (int64_t m = m0; m < m1; ++m) dst[m * out_head + i] = src[m * a.xs[1] + i];
      continue;
    }
    const int j = static_cast<int>(w);
    const int i1 = a.traditional ? 2 * j : j, i2 = a.traditional ? 2 * j + 1 : j + half;
    const int32_t offset = offsets ? offsets[a.per_batch_offsets ? b : 0] : a.offset_value;
    float sn, c;
    sincosf(static_cast<float>(offset + p) * a.scale * inv_freq[j], &sn, &c);
#pragma unroll 4
    for (int64_t m = m0; m < m1; ++m) {
      const T* r = src + m * a.xs[1];
      const float x1 = to_float(r[i1]), x2 = to_float(r[i2]);
      dst[m * out_head + i1] = from_float<T>(x1 * c - x2 * sn);
      dst[m * out_head + i2] = from_float<T>(x1 * sn + x2 * c);
    }
  }
}

// x's strides as (B, M, T) with M the product of the dims between the first
// and the last two, when those dims collapse to one stride.
bool rope_layout(const array& x, RopeArgs& a) {
  const int nd = x.ndim();
  if (x.strides()[nd - 1] != 1) return false;
  a.batch = x.shape(0), a.t = x.shape(nd - 2), a.d = x.shape(nd - 1);
  a.xs[0] = x.strides()[0], a.xs[2] = x.strides()[nd - 2];
  a.heads = 1, a.xs[1] = 0;
  for (int i = nd - 3; i >= 1; --i) {
    if (x.shape(i) == 1) continue;
    if (a.heads == 1) a.xs[1] = x.strides()[i];
    else if (x.strides()[i] != a.xs[1] * a.heads) return false;
    a.heads *= x.shape(i);
  }
  return true;
}

// Attention for a few queries (decode). A block per row (batch, query
// head, query) gives decode 32 blocks, a quarter of an H200's
// multiprocessors, each walking every key alone (latency bound). So each
// row's keys are cut into `splits` chunks, a block per (row, chunk). Scores
// take `key_lanes` lanes per key, each dotting V-wide slices (one 16-byte
// load for 16-bit types) of U keys at once, so a lane has U loads in flight;
// the chunk's scores stay in shared memory; the block takes their maximum
// and exponentials, and thread groups over V-wide slices of the value
// features sum the weighted values of interleaved keys. With one chunk the
// block writes the output; otherwise it writes its (max, sum, unnormalised
// values) and attention_combine_kernel merges the chunks, rescaled to a
// common maximum. Fully masked rows give zeros; a sink logit joins the
// normaliser only.
constexpr int kAttnThreads = 128;
constexpr int64_t kAttnMaxChunk = 4096;  // keys a block scores (shared memory)
constexpr int kAttnKeysInFlight = 4;     // U

struct AttentionArgs {
  int64_t hq, hk, tq, tk, d, dv, chunk;
  int64_t qs[3], ks[3], vs[3], ms[4];  // (batch, head, position) strides; the mask's four
  float scale;
  int splits, key_lanes;
  bool causal, has_mask, has_sinks;
};

template <typename T, int V>
__device__ inline void load_vec_float(const T* __restrict__ p, float (&x)[V]) {
  const Vec<T, V> w = *reinterpret_cast<const Vec<T, V>*>(p);
#pragma unroll
  for (int e = 0; e < V; ++e) x[e] = to_float(w.v[e]);
}

template <typename T, int V>
__global__ void __launch_bounds__(kAttnThreads) attention_kernel(
    const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, const float* __restrict__ mask,
    const float* __restrict__ sinks, T* __restrict__ out, float* __restrict__ partial, AttentionArgs a) {
  constexpr int U = kAttnKeysInFlight;
  extern __shared__ float smem[];
  float* qrow = smem;   // the scaled query, d floats
  float* s = smem + a.d;  // the chunk's scores, then weights
  __shared__ float red[kAttnThreads / 32];
  pdl_begin();
  __shared__ float part[kAttnThreads * V];
  const int64_t row = blockIdx.x;  // (b, h, i) row-major
  const int split = blockIdx.y;
  const int64_t i = row % a.tq, h = (row / a.tq) % a.hq, b = row / (a.tq * a.hq);
  const int64_t kh = h / (a.hq / a.hk);
  const int64_t j0 = split * a.chunk, j1 = min(a.tk, j0 + a.chunk);
  const T* qp = q + b * a.qs[0] + h * a.qs[1] + i * a.qs[2];
  for (int64_t f = threadIdx.x; f < a.d; f += blockDim.x) qrow[f] = to_float(qp[f]) * a.scale;
  __syncthreads();
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  const int64_t last_key = a.causal ? i + (a.tk - a.tq) : a.tk - 1;
  {
    const int lanes = a.key_lanes, slot = threadIdx.x / lanes, sub = threadIdx.x % lanes;
    const int slots = blockDim.x / lanes;
    const T* kb = k + b * a.ks[0] + kh * a.ks[1];
    const int64_t f0 = int64_t{sub} * V;
    // Every thread runs the same trips (the shuffles need whole warps).
    for (int64_t base = j0; base < j1; base += U * slots) {
      float dot[U], bias[U];
      Vec<T, V> raw[U];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int64_t j = base + u * slots + slot;
        const bool live = j < j1 && f0 < a.d;
        if (live) raw[u] = *reinterpret_cast<const Vec<T, V>*>(kb + j * a.ks[2] + f0);
        bias[u] = a.has_mask && j < j1 && sub == 0 ? mask[b * a.ms[0] + h * a.ms[1] + i * a.ms[2] + j * a.ms[3]] : 0.0f;
        dot[u] = 0.0f;
        if (live)
#pragma unroll
          for (int e = 0; e < V; ++e) dot[u] = fmaf(qrow[f0 + e], to_float(raw[u].v[e]), dot[u]);
      }
      // Heads wider than a warp's slices.
      for (int64_t f = f0 + int64_t{lanes} * V; f < a.d; f += int64_t{lanes} * V)
#pragma unroll
        for (int u = 0; u < U; ++u) {
          const int64_t j = base + u * slots + slot;
          if (j >= j1) continue;
          float kv[V];
          load_vec_float<T, V>(kb + j * a.ks[2] + f, kv);
#pragma unroll
          for (int e = 0; e < V; ++e) dot[u] = fmaf(qrow[f + e], kv[e], dot[u]);
        }
#pragma unroll
      for (int u = 0; u < U; ++u) {
        for (int o = lanes / 2; o > 0; o /= 2) dot[u] += __shfl_xor_sync(0xffffffffu, dot[u], o);
        const int64_t j = base + u * slots + slot;
        if (sub == 0 && j < j1) s[j - j0] = j > last_key ? -INFINITY : dot[u] + bias[u];
      }
    }
  }
  __syncthreads();
  // The chunk's maximum (with the sink when it is the only chunk), then its
  // unnormalised weights and their sum.
  const int64_t n = j1 - j0;
  const bool whole = a.splits == 1;
  float m = whole && a.has_sinks ? sinks[h] : -INFINITY;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) m = fmaxf(m, s[j]);
  for (int o = 16; o > 0; o /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  if (lane == 0) red[warp] = m;
  __syncthreads();
  m = red[0];
  for (int w = 1; w < warps; ++w) m = fmaxf(m, red[w]);
  __syncthreads();
  float* mine = partial + (row * a.splits + split) * (a.dv + 2);  // max, sum, values
  if (m == -INFINITY) {  // nothing visible in this chunk
    if (whole) {
      for (int64_t f = threadIdx.x; f < a.dv; f += blockDim.x) out[row * a.dv + f] = T(0.0f);
    } else if (threadIdx.x == 0) {
      mine[0] = -INFINITY, mine[1] = 0.0f;
    }
    return;
  }
  float l = 0.0f;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    const float p = __expf(s[j] - m);
    s[j] = p;
    l += p;
  }
  for (int o = 16; o > 0; o /= 2) l += __shfl_xor_sync(0xffffffffu, l, o);
  if (lane == 0) red[warp] = l;
  __syncthreads();
  l = whole && a.has_sinks ? __expf(sinks[h] - m) : 0.0f;
  for (int w = 0; w < warps; ++w) l += red[w];
  // `groups` groups of `width` threads, thread t of a group owning the
  // features of slice t; group g sums keys g, g + groups, ... of the chunk.
  const int64_t slices = a.dv / V;
  const int width = static_cast<int>(slices < int64_t{blockDim.x} ? slices : int64_t{blockDim.x});
  const int groups = blockDim.x / width, g = threadIdx.x / width, t = threadIdx.x % width;
  const float inv = whole ? 1.0f / l : 1.0f;
  const T* vb = v + b * a.vs[0] + kh * a.vs[1];
  for (int64_t c0 = 0; c0 < slices; c0 += width) {
    const int64_t c = c0 + t;
    float acc[V] = {};
    if (g < groups && c < slices) {
      const T* vp = vb + c * V;
      int64_t j = g;
      for (; j + (U - 1) * groups < n; j += U * groups) {
        Vec<T, V> raw[U];
#pragma unroll
        for (int u = 0; u < U; ++u) raw[u] = *reinterpret_cast<const Vec<T, V>*>(vp + (j0 + j + u * groups) * a.vs[2]);
#pragma unroll
        for (int u = 0; u < U; ++u) {
          const float p = s[j + u * groups];
#pragma unroll
          for (int e = 0; e < V; ++e) acc[e] = fmaf(p, to_float(raw[u].v[e]), acc[e]);
        }
      }
      for (; j < n; j += groups) {
        float vv[V];
        load_vec_float<T, V>(vp + (j0 + j) * a.vs[2], vv);
#pragma unroll
        for (int e = 0; e < V; ++e) acc[e] = fmaf(s[j], vv[e], acc[e]);
      }
    }
#pragma unroll
    for (int e = 0; e < V; ++e) part[threadIdx.x * V + e] = acc[e];
    __syncthreads();
    if (g == 0 && c < slices) {
      for (int o = 1; o < groups; ++o)
#pragma unroll
        for (int e = 0; e < V; ++e) acc[e] += part[(o * width + t) * V + e];
#pragma unroll
      for (int e = 0; e < V; ++e) {
        if (whole) out[row * a.dv + c * V + e] = from_float<T>(acc[e] * inv);
        else mine[2 + c * V + e] = acc[e];
      }
    }
    __syncthreads();
  }
  if (!whole && threadIdx.x == 0) mine[0] = m, mine[1] = l;
}

// Merges a row's chunks: out = sum_c e^(m_c - M) o_c / (sum_c e^(m_c - M) l_c
// + e^(sink - M)), M the largest chunk maximum (and sink).
template <typename T>
__global__ void attention_combine_kernel(const float* __restrict__ partial, const float* __restrict__ sinks,
                                         T* __restrict__ out, AttentionArgs a) {
  pdl_begin();
  const int64_t row = blockIdx.x;
  const int64_t h = (row / a.tq) % a.hq;
  const float* p = partial + row * a.splits * (a.dv + 2);
  const int64_t stride = a.dv + 2;
  float M = a.has_sinks ? sinks[h] : -INFINITY;
  for (int c = 0; c < a.splits; ++c) M = fmaxf(M, p[c * stride]);
  if (M == -INFINITY) {
    for (int64_t f = threadIdx.x; f < a.dv; f += blockDim.x) out[row * a.dv + f] = T(0.0f);
    return;
  }
  float L = a.has_sinks ? __expf(sinks[h] - M) : 0.0f;
  for (int c = 0; c < a.splits; ++c)
    if (p[c * stride] != -INFINITY) L += __expf(p[c * stride] - M) * p[c * stride + 1];
  for (int64_t f = threadIdx.x; f < a.dv; f += blockDim.x) {
    float acc = 0.0f;
    for (int c = 0; c < a.splits; ++c)
      if (p[c * stride] != -INFINITY) acc += __expf(p[c * stride] - M) * p[c * stride + 2 + f];
    out[row * a.dv + f] = T(acc / L);
  }
}

template <typename F>
bool dispatch_float_gpu(Dtype t, F&& f) {
  switch (t.val()) {
    case Dtype::Val::float16: f(TypeTag<float16_t>{}); return true;
    case Dtype::Val::bfloat16: f(TypeTag<bfloat16_t>{}); return true;
    case Dtype::Val::float32: f(TypeTag<float>{}); return true;
    default: return false;
  }
}

}  // namespace

namespace {

// Whether rows of d values take norm_rows_group_kernel, and its group size
// and grid: the fewest warps per row that leave each lane at most two chunks
// (at most kNormGroupChunks for the widest rows).
bool norm_group_geometry(int64_t rows, int64_t d, bool aligned, int& group, unsigned& grid) {
  const int64_t chunks = d / 8;
  if (d % 8 != 0 || chunks > int64_t{kNormGroupChunks} * kThreads || !aligned) return false;
  group = 1;
  while (group < kThreads / 32 && chunks > 64 * group) group *= 2;
  grid = blocks_for(rows, kThreads / 32 / group);
  return true;
}

}  // namespace

bool add_norm(const array& x, const array& r, const array& w, float eps, array& out, array& sum, cudaStream_t st) {
  const int64_t d = x.shape(-1);
  const int64_t rows = d ? static_cast<int64_t>(x.size()) / d : 0;
  if (rows == 0 || x.dtype() != r.dtype() || x.dtype() != w.dtype() || x.dtype() != out.dtype() ||
      x.dtype() != sum.dtype())
    return false;
  bool done = false;
  dispatch_float_gpu(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = static_cast<const T*>(device_read(x, st));
    const T* rp = static_cast<const T*>(device_read(r, st));
    const T* wp = static_cast<const T*>(device_read(w, st));
    int group;
    unsigned grid;
    if (!norm_group_geometry(rows, d, aligned_to(xp, 16) && aligned_to(rp, 16) && aligned_to(wp, 16), group, grid))
      return;
    allocate(out, st), allocate(sum, st);  // fresh pool blocks: 256-byte aligned
    launch_dependent(norm_rows_group_kernel<T, false, true>, grid, kThreads, 0, st, xp, wp, nullptr,
                     static_cast<T*>(device_write(out)), rows, d, group, eps, rp, static_cast<T*>(device_write(sum)));
    LMX_CUDA_CHECK(cudaGetLastError());
    done = true;
  });
  return done;
}

bool norm(const array& x, const array& w, const array* b, float eps, array& out, cudaStream_t st) {
  int64_t d = x.shape(-1);
  int64_t rows = d ? static_cast<int64_t>(x.size()) / d : 0;
  return dispatch_float_gpu(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = static_cast<const T*>(device_read(x, st));
    const T* wp = static_cast<const T*>(device_read(w, st));
    const T* bp = b ? static_cast<const T*>(device_read(*b, st)) : nullptr;
    allocate(out, st);
    if (rows == 0) return;
    T* yp = static_cast<T*>(device_write(out));
    const bool aligned = aligned_to(xp, 16) && aligned_to(wp, 16) && aligned_to(yp, 16) && (!bp || aligned_to(bp, 16));
    int group;
    unsigned grid;
    if (norm_group_geometry(rows, d, aligned, group, grid)) {
      auto kernel = b ? norm_rows_group_kernel<T, true> : norm_rows_group_kernel<T, false>;
      launch_dependent(kernel, grid, kThreads, 0, st, xp, wp, bp, yp, rows, d, group, eps, nullptr, nullptr);
      LMX_CUDA_CHECK(cudaGetLastError());
      return;
    }
    grid = static_cast<unsigned>(std::min<int64_t>(rows, 1 << 20));
    if (b) layer_norm_kernel<T><<<grid, kThreads, 0, st>>>(xp, wp, bp, yp, rows, d, eps);
    else launch_dependent(rms_norm_kernel<T>, grid, kThreads, 0, st, xp, wp, yp, rows, d, eps);
    LMX_CUDA_CHECK(cudaGetLastError());
  });
}

bool rope(const array& x_in, const array& offsets, const array& inv_freq, int dims, bool traditional, float scale,
          array& out, cudaStream_t st) {
  RopeArgs a{};
  array x = x_in;
  if (!rope_layout(x, a)) {
    x = row_contiguous(x_in, st);
    rope_layout(x, a);
  }
  a.dims = dims, a.traditional = traditional, a.scale = scale, a.per_batch_offsets = offsets.size() > 1;
  return dispatch_float_gpu(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = static_cast<const T*>(device_read(x, st));
    // One offset made on the host (decode's Python int) travels as a kernel
    // argument: one launch, not a copy to the device and then the rope.
    const Data& od = *offsets.data_shared_ptr();
    const bool offset_by_value = offsets.size() == 1 && od.on_host() && !od.on_device();
    const auto* op = offset_by_value ? nullptr : static_cast<const int32_t*>(device_read(offsets, st));
    a.offset_value = offset_by_value ? *offsets.data<int32_t>() : 0;
    const auto* fp = static_cast<const float*>(device_read(inv_freq, st));
    allocate(out, st);
    const int64_t work = a.batch * ((a.heads + kRopeHeads - 1) / kRopeHeads) * a.t * (dims / 2 + a.d - dims);
    if (work == 0) return;
    launch_dependent(rope_kernel<T>, blocks_for(work), kThreads, 0, st, xp, static_cast<T*>(device_write(out)), op, fp,
                     a);
    LMX_CUDA_CHECK(cudaGetLastError());
  });
}

bool attention(const array& q, const array& k, const array& v, const array* mask, const array* sinks, float scale,
               bool causal, array& out, cudaStream_t st) {
  AttentionArgs a{};
  a.hq = q.shape(1), a.hk = k.shape(1), a.tq = q.shape(2), a.tk = k.shape(2), a.d = q.shape(3), a.dv = v.shape(3);
  if (a.tk == 0) return false;
  // Query blocks past decode's size go to the tensor-core kernel.
  if (a.tq > 8) return flash_attention(q, k, v, mask, sinks, scale, causal, out, st);
  if (a.d > 1024 || q.strides()[3] != 1 || k.strides()[3] != 1 || v.strides()[3] != 1) return false;
  for (int i = 0; i < 3; ++i) a.qs[i] = q.strides()[i], a.ks[i] = k.strides()[i], a.vs[i] = v.strides()[i];
  if (mask)
    for (int i = 0; i < 4; ++i) a.ms[i] = mask->strides()[i];
  a.scale = scale, a.causal = causal, a.has_mask = mask != nullptr, a.has_sinks = sinks != nullptr;
  int64_t rows = q.shape(0) * a.hq * a.tq;
  // Chunks of kMinChunkKeys to kAttnMaxChunk keys, enough of them for about
  // four blocks per multiprocessor.
  constexpr int64_t kMinChunkKeys = 32;
  const int64_t want = 4 * int64_t{device_props().multiProcessorCount};
  int64_t splits = rows > 0 ? std::max<int64_t>(1, std::min((want + rows - 1) / rows, (a.tk + kMinChunkKeys - 1) / kMinChunkKeys)) : 1;
  splits = std::max(splits, (a.tk + kAttnMaxChunk - 1) / kAttnMaxChunk);
  if (splits > 65535) return false;
  a.chunk = (a.tk + splits - 1) / splits;
  a.splits = static_cast<int>((a.tk + a.chunk - 1) / a.chunk);
  return dispatch_float_gpu(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* qp = static_cast<const T*>(device_read(q, st));
    const T* kp = static_cast<const T*>(device_read(k, st));
    const T* vp = static_cast<const T*>(device_read(v, st));
    const float* mp = mask ? static_cast<const float*>(device_read(*mask, st)) : nullptr;
    const float* sp = sinks ? static_cast<const float*>(device_read(*sinks, st)) : nullptr;
    allocate(out, st);
    if (rows == 0) return;
    Scratch partial(a.splits > 1 ? sizeof(float) * rows * a.splits * (a.dv + 2) : 0, st);
    T* o = static_cast<T*>(device_write(out));
    const size_t smem = sizeof(float) * (a.d + a.chunk);
    const dim3 grid(static_cast<unsigned>(rows), static_cast<unsigned>(a.splits));
    // Keys and values read V at a time when every row of them starts aligned.
    constexpr int V = vec_width<T>();
    bool vec = a.d % V == 0 && a.dv % V == 0 && aligned_to(kp, 16) && aligned_to(vp, 16);
    for (int x = 0; x < 3; ++x) vec = vec && a.ks[x] % V == 0 && a.vs[x] % V == 0;
    auto key_lanes = [&](int width) {  // the fewest power-of-two lanes covering a key's slices, at most 32
      int lanes = 1;
      while (lanes < 32 && lanes * width < a.d) lanes *= 2;
      return lanes;
    };
    if (vec) {
      a.key_lanes = key_lanes(V);
      launch_dependent(attention_kernel<T, V>, grid, kAttnThreads, smem, st, qp, kp, vp, mp, sp, o,
                       partial.as<float>(), a);
    } else {
      a.key_lanes = key_lanes(1);
      launch_dependent(attention_kernel<T, 1>, grid, kAttnThreads, smem, st, qp, kp, vp, mp, sp, o,
                       partial.as<float>(), a);
    }
    LMX_CUDA_CHECK(cudaGetLastError());
    if (a.splits > 1) {
      launch_dependent(attention_combine_kernel<T>, static_cast<unsigned>(rows), 128, 0, st, partial.as<float>(), sp,
                       o, a);
      LMX_CUDA_CHECK(cudaGetLastError());
    }
  });
}

}  // namespace lmx::cu
