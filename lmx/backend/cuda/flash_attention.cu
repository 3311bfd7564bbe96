// Attention for many queries (prefill) on the tensor cores, in the manner of
// FlashAttention-2. A block takes 64 queries of one (batch, query head); each
// of its four warps owns 16 of those rows and walks the keys 64 at a time.
// The scores and the running softmax never leave registers: S = Q K^T and
// O += P V are mma.sync m16n8k16 products with float32 accumulators, and the
// accumulator fragments of S are, element for element, the A operand of the
// second product, so P goes from one to the other by rounding to 16 bits.
// K and V tiles are double-buffered in shared memory through cp.async, in a
// swizzled layout (16-byte chunk index XOR row % 8) that keeps ldmatrix free
// of bank conflicts. Only tiles on the causal diagonal or at the end of the
// keys (or under an array mask) pay for per-element masking. The output is
// written as (B, T, H, D), so the layer's transpose back before its output
// projection is a view. The matmul fallback this replaces materialised
// float32 scores of (heads, queries, keys) and walked them a dozen times.
#include <cuda_bf16.h>

#include "lmx/backend/cuda/device_util.cuh"
#include "lmx/backend/cuda/kernels.h"
#include "lmx/backend/cuda/tensor_core.cuh"

namespace lmx::cu {

namespace {

constexpr int kFlashKeys = 64;   // keys per tile
constexpr int kFlashWarps = 4;   // 16 queries each
constexpr float kLog2e = 1.4426950408889634f;

// The additive mask's four strides and the scalars of one call (positions
// and head counts fit int: the launcher checks).
struct FlashArgs {
  int hq, hk, tq, tk;
  int64_t qs[3], ks[3], vs[3], ms[4];  // (batch, head, position) strides of q, k, v; the mask's four
  float scale_log2;                    // scale * log2(e): the softmax runs in base 2
  bool causal, has_mask, has_sinks;
};

// Two floats as the 16-bit pair of an mma operand (the first in the low half).
template <typename T>
__device__ inline uint32_t pack2(float lo, float hi) {
  if constexpr (std::is_same_v<T, bfloat16_t>) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
  } else {
    __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
  }
}

// 2^x in one instruction (MUFU.EX2; about 2 ulp, flushing denormals): exp2f
// adds range handling the softmax does not need.
__device__ inline float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Four 8x8 16-bit matrices; lanes 8i..8i+7 give the row addresses of matrix i.
__device__ inline void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_address(p)));
}
__device__ inline void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_address(p)));
}

// Element offset of (row, col) in a swizzled tile of D-wide rows.
template <int D>
__device__ inline int swizzled(int row, int col) {
  return row * D + (((col >> 3) ^ (row & 7)) << 3) + (col & 7);
}

// Rows [first, first + Rows) of a (positions, D) operand with position
// stride `stride` into a swizzled tile, by Threads threads; rows at or past
// `rows` are zeros.
template <typename T, int D, int Rows, int Threads>
__device__ inline void load_tile(T* tile, const T* src, int64_t stride, int first, int rows) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
#pragma unroll
  for (int i = 0; i < Rows * kChunks / Threads; ++i) {
    const int idx = threadIdx.x + i * Threads, r = idx / kChunks, c = idx % kChunks;
    const bool valid = first + r < rows;
    const T* from = valid ? src + (first + r) * stride + c * 8 : src;
    cp_async16(tile + swizzled<D>(r, c * 8), from, valid);
  }
}

template <typename T, int D, int Warps>
__global__ void __launch_bounds__(Warps * 32) flash_attention_kernel(const T* __restrict__ q,
                                                                       const T* __restrict__ k,
                                                                       const T* __restrict__ v,
                                                                       const float* __restrict__ mask,
                                                                       const float* __restrict__ sinks,
                                                                       T* __restrict__ out, FlashArgs a) {
  constexpr int kRows = Warps * 16, kThreadsPerBlock = Warps * 32;
  extern __shared__ __align__(16) unsigned char smem_bytes[];
  T* qs = reinterpret_cast<T*>(smem_bytes);
  T* ks = qs + kRows * D;            // two stages
  T* vs = ks + 2 * kFlashKeys * D;   // two stages

  // The longest query blocks (under a causal mask) start first.
  const int qb = gridDim.x - 1 - blockIdx.x;
  const int h = blockIdx.y, b = blockIdx.z, kh = h / (a.hq / a.hk);
  const int q0 = qb * kRows;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;  // the mma fragment's row group and column pair

  const T* qp = q + b * a.qs[0] + h * a.qs[1];
  const T* kp = k + b * a.ks[0] + kh * a.ks[1];
  const T* vp = v + b * a.vs[0] + kh * a.vs[1];

  // Keys past the last one any of this block's queries may see are skipped.
  const int diagonal = a.tk - a.tq;  // query i sees keys j <= i + diagonal
  int key_end = a.tk;
  if (a.causal && q0 + kRows + diagonal < key_end) key_end = q0 + kRows + diagonal;
  const int tiles = key_end > 0 ? (key_end + kFlashKeys - 1) / kFlashKeys : 0;

  load_tile<T, D, kRows, kThreadsPerBlock>(qs, qp, a.qs[2], q0, a.tq);
  if (tiles > 0) {
    load_tile<T, D, kFlashKeys, kThreadsPerBlock>(ks, kp, a.ks[2], 0, a.tk);
    load_tile<T, D, kFlashKeys, kThreadsPerBlock>(vs, vp, a.vs[2], 0, a.tk);
  }
  cp_async_commit();

  // Each thread holds two rows of its warp's 16: g and g + 8; row r sees the
  // keys before key_limit[r].
  const int row0 = q0 + warp * 16 + g, rows[2] = {row0, row0 + 8};
  int key_limit[2];
  for (int r = 0; r < 2; ++r) key_limit[r] = a.causal ? min(a.tk, rows[r] + diagonal + 1) : a.tk;
  float m[2], l[2];
  for (int r = 0; r < 2; ++r) {
    // A sink joins the normaliser once per row (the quad's first thread).
    m[r] = a.has_sinks ? sinks[h] * kLog2e : -INFINITY;
    l[r] = a.has_sinks && t == 0 ? 1.0f : 0.0f;
  }
  float o[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  uint32_t qf[D / 16][4];

  for (int tile = 0; tile < tiles; ++tile) {
    const int stage = tile & 1;
    if (tile + 1 < tiles) {
      load_tile<T, D, kFlashKeys, kThreadsPerBlock>(ks + (stage ^ 1) * kFlashKeys * D, kp, a.ks[2],
                                                    (tile + 1) * kFlashKeys, a.tk);
      load_tile<T, D, kFlashKeys, kThreadsPerBlock>(vs + (stage ^ 1) * kFlashKeys * D, vp, a.vs[2],
                                                    (tile + 1) * kFlashKeys, a.tk);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (tile == 0) {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk)
        ldmatrix_x4(qf[kk], qs + swizzled<D>(warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, kk * 16 + (lane >> 4) * 8));
    }
    const T* kt = ks + stage * kFlashKeys * D;
    const T* vt = vs + stage * kFlashKeys * D;

    // S = Q K^T for this warp's 16 rows and the tile's 64 keys.
    float s[kFlashKeys / 8][4];
#pragma unroll
    for (int n = 0; n < kFlashKeys / 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
      for (int n2 = 0; n2 < kFlashKeys / 16; ++n2) {
        uint32_t bf[4];
        ldmatrix_x4(bf, kt + swizzled<D>(n2 * 16 + (lane & 7) + (lane >> 4) * 8, kk * 16 + ((lane >> 3) & 1) * 8));
        mma_16816<T>(s[2 * n2], qf[kk], bf[0], bf[1]);
        mma_16816<T>(s[2 * n2 + 1], qf[kk], bf[2], bf[3]);
      }
    }

    // Scale, mask, and the online softmax (base 2) of each of the two rows.
    // Only the tiles a row sees part of (the causal diagonal, the end of the
    // keys) or an array mask need the per-element work.
    const int key0 = tile * kFlashKeys;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int seen = key_limit[r] - key0;  // this tile's keys the row sees
      float tile_max = -INFINITY;
      if (a.has_mask || seen < kFlashKeys) {
        const float* mask_row =
            a.has_mask && rows[r] < a.tq ? mask + b * a.ms[0] + h * a.ms[1] + int64_t{rows[r]} * a.ms[2] : nullptr;
#pragma unroll
        for (int n = 0; n < kFlashKeys / 8; ++n) {
#pragma unroll
          for (int c = 0; c < 2; ++c) {
            const int col = n * 8 + 2 * t + c;
            float x = s[n][2 * r + c] * a.scale_log2;
            if (mask_row && col < seen) x += mask_row[int64_t{key0 + col} * a.ms[3]] * kLog2e;
            if (col >= seen) x = -INFINITY;
            s[n][2 * r + c] = x;
            tile_max = fmaxf(tile_max, x);
          }
        }
      } else {
#pragma unroll
        for (int n = 0; n < kFlashKeys / 8; ++n) {
#pragma unroll
          for (int c = 0; c < 2; ++c) {
            s[n][2 * r + c] *= a.scale_log2;
            tile_max = fmaxf(tile_max, s[n][2 * r + c]);
          }
        }
      }
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
      const float m_new = fmaxf(m[r], tile_max);
      // A row with nothing to see yet keeps a finite base so no exp2 meets inf - inf.
      const float base = m_new == -INFINITY ? 0.0f : m_new;
      const float alpha = fast_exp2(m[r] - base);
      m[r] = m_new;
      float sum = 0.0f;
#pragma unroll
      for (int n = 0; n < kFlashKeys / 8; ++n) {
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          const float p = fast_exp2(s[n][2 * r + c] - base);
          s[n][2 * r + c] = p;
          sum += p;
        }
      }
      l[r] = l[r] * alpha + sum;
      if (alpha != 1.0f) {  // once the row's maximum settles, most tiles skip this
#pragma unroll
        for (int n = 0; n < D / 8; ++n) o[n][2 * r] *= alpha, o[n][2 * r + 1] *= alpha;
      }
    }

    // O += P V: P's fragments of two adjacent 8-key blocks form one A operand.
#pragma unroll
    for (int kk = 0; kk < kFlashKeys / 16; ++kk) {
      const uint32_t pa[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]), pack2<T>(s[2 * kk][2], s[2 * kk][3]),
                              pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                              pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int d2 = 0; d2 < D / 16; ++d2) {
        uint32_t bf[4];
        ldmatrix_x4_trans(bf, vt + swizzled<D>(kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, d2 * 16 + (lane >> 4) * 8));
        mma_16816<T>(o[2 * d2], pa, bf[0], bf[1]);
        mma_16816<T>(o[2 * d2 + 1], pa, bf[2], bf[3]);
      }
    }
    __syncthreads();  // the next iteration's loads overwrite this stage
  }
  cp_async_wait<0>();

  // Normalise and store; a row that saw no key (and no sink) is zeros. The
  // output lies as (B, T, H, D): the layer's transpose back is a view.
  T* op = out + (int64_t{b} * a.tq * a.hq + h) * D;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float total = l[r];
    total += __shfl_xor_sync(0xffffffffu, total, 1);
    total += __shfl_xor_sync(0xffffffffu, total, 2);
    const float inv = total > 0.0f ? 1.0f / total : 0.0f;
    if (rows[r] >= a.tq) continue;
#pragma unroll
    for (int n = 0; n < D / 8; ++n)
      *reinterpret_cast<uint32_t*>(op + int64_t{rows[r]} * a.hq * D + n * 8 + 2 * t) =
          pack2<T>(o[n][2 * r] * inv, o[n][2 * r + 1] * inv);
  }
}

template <typename T, int D, int Warps>
void launch_flash(const T* q, const T* k, const T* v, const float* mask, const float* sinks, T* out, int64_t batch,
                  const FlashArgs& a, cudaStream_t st) {
  constexpr int kRows = Warps * 16;
  constexpr size_t smem = sizeof(T) * D * (kRows + 4 * kFlashKeys);
  static const bool configured = [] {
    // Past 48 KiB of dynamic shared memory a kernel must opt in.
    LMX_CUDA_CHECK(cudaFuncSetAttribute(flash_attention_kernel<T, D, Warps>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
    return true;
  }();
  (void)configured;
  dim3 grid(static_cast<unsigned>((a.tq + kRows - 1) / kRows), static_cast<unsigned>(a.hq),
            static_cast<unsigned>(batch));
  flash_attention_kernel<T, D, Warps><<<grid, Warps * 32, smem, st>>>(q, k, v, mask, sinks, out, a);
  LMX_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

bool flash_attention(const array& q, const array& k, const array& v, const array* mask, const array* sinks,
                     float scale, bool causal, array& out, cudaStream_t st) {
  const int64_t d = q.shape(3);
  const Dtype t = out.dtype();
  if ((t != float16 && t != bfloat16) || (d != 64 && d != 128) || v.shape(3) != d) return false;
  // Grid limits, and positions that int arithmetic in the kernel can hold.
  if (q.shape(0) > 65535 || q.shape(1) > 65535 || q.shape(2) > (1 << 30) || k.shape(2) > (1 << 30)) return false;
  // cp.async moves 16-byte chunks: unit feature strides, 8-element position,
  // head and batch strides, 16-byte-aligned starts.
  for (const array* x : {&q, &k, &v}) {
    if (x->strides()[3] != 1) return false;
    for (int i = 0; i < 3; ++i)
      if (x->strides()[i] % 8 != 0) return false;
  }
  if (!(scale > 0.0f)) return false;  // the softmax's maximum is taken of scaled scores
  FlashArgs a{};
  a.hq = q.shape(1), a.hk = k.shape(1), a.tq = q.shape(2), a.tk = k.shape(2);
  for (int i = 0; i < 3; ++i) a.qs[i] = q.strides()[i], a.ks[i] = k.strides()[i], a.vs[i] = v.strides()[i];
  if (mask)
    for (int i = 0; i < 4; ++i) a.ms[i] = mask->strides()[i];
  a.scale_log2 = scale * kLog2e, a.causal = causal, a.has_mask = mask != nullptr, a.has_sinks = sinks != nullptr;
  const void* qp = device_read(q, st);
  const void* kp = device_read(k, st);
  const void* vp = device_read(v, st);
  if (!aligned_to(qp, 16) || !aligned_to(kp, 16) || !aligned_to(vp, 16)) return false;
  const float* mp = mask ? static_cast<const float*>(device_read(*mask, st)) : nullptr;
  const float* sp = sinks ? static_cast<const float*>(device_read(*sinks, st)) : nullptr;
  // (B, H, T, D) over a (B, T, H, D) buffer, as the attention layer's
  // output projection reads it.
  allocate_strided(out, {a.tq * a.hq * d, d, a.hq * d, 1}, st);
  if (out.size() == 0) return true;
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto* o = static_cast<T*>(device_write(out));
    auto* qt = static_cast<const T*>(qp);
    auto* kt = static_cast<const T*>(kp);
    auto* vt = static_cast<const T*>(vp);
    // Four warps: eight (one block a SM, for the registers) measured slower
    // on an H200, 0.236 against 0.206 ms for the causal 2048 x 128 case of
    // benchmarks/gpu_ops.py.
    if (d == 64) launch_flash<T, 64, kFlashWarps>(qt, kt, vt, mp, sp, o, q.shape(0), a, st);
    else launch_flash<T, 128, kFlashWarps>(qt, kt, vt, mp, sp, o, q.shape(0), a, st);
  };
  if (t == bfloat16) run(TypeTag<bfloat16_t>{});
  else run(TypeTag<float16_t>{});
  return true;
}

}  // namespace lmx::cu
