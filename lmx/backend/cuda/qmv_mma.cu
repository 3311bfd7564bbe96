// The decode product of 4-bit affine matrices with bfloat16 or float16 x on
// tensor cores. The general kernel (quantized.cu) spends about five integer
// and float instructions per weight value unpacking and multiplying, which
// held it near 1 TB/s on an H200, a quarter of the card's bandwidth. Here a
// warp takes a tile of 16 rows and runs m16n8k16 products (mma.sync) with x
// as the 8-column operand (one column per row of x, up to 8):
//  - One lop3 turns two 4-bit levels into two 16-bit floats offset + q:
//    the level is OR-ed into the low mantissa bits of offset = 2^7
//    (bfloat16) or 2^10 (float16), which is exact.
//  - A product sums over K, so its 16 "k" positions may stand for any 16
//    values of a row, the same ones in w and in x: a lane's four k positions
//    are the two level pairs of its own packed word ((0, 4) and (1, 5), then
//    (2, 6) and (3, 7)), and x is permuted to match with byte_perm. The four
//    lanes of a row take the four words of one 32-value chunk, so every
//    product stays inside one quantisation group.
//  - With sums per group of (offset + q) x and of x (a second product
//    against ones), sum (s q + b) x = s * sum (offset + q) x
//    + (b - offset s) * sum x, in float, once per group.
// The packed words, scales and biases reach shared memory through cp.async,
// in stages of 256 values of the warp's 16 rows (2 KB of weights), four
// stages in flight per warp: with words loaded straight into registers a
// warp had one stage in flight, and the kernel ran at the ~1 TB/s of the
// general one, bound by memory latency rather than by its instructions.
#include "lmx/backend/cuda/qmv.cuh"
#include "lmx/backend/cuda/tensor_core.cuh"

namespace lmx::cu {

namespace {

// A 16-bit float type's two-lane constants: `magic` is offset = 2^p in each
// half (p the mantissa width, so levels fill its low bits exactly), `ones`
// is 1.0 in each half.
template <typename T>
struct Half2Format;
template <>
struct Half2Format<bfloat16_t> {
  static constexpr uint32_t magic = 0x43004300u, ones = 0x3f803f80u;
  static constexpr float offset = 128.0f;
};
template <>
struct Half2Format<float16_t> {
  static constexpr uint32_t magic = 0x64006400u, ones = 0x3c003c00u;
  static constexpr float offset = 1024.0f;
};

// Levels j and j + 4 of a packed word (bits 4j and 4j + 16) as two 16-bit
// floats offset + level: (w >> 4j) & 0x000f000f | magic in one lop3 (the
// compiler's and-then-or takes two: an instruction has one immediate).
template <int J>
__device__ inline uint32_t level_pair(uint32_t w, uint32_t magic) {
  uint32_t r;
  asm("lop3.b32 %0, %1, %2, %3, 0xea;\n" : "=r"(r) : "r"(w >> (4 * J)), "n"(0x000f000f), "r"(magic));
  return r;
}

constexpr int kMmaWarps = 4, kMmaThreads = 32 * kMmaWarps, kMmaTileRows = 16;
constexpr int kStageValues = 256, kStageWords = kStageValues / 8, kStages = 4;

// One stage of a warp's tile in shared memory: 256 packed values of each of
// its 16 rows (rows padded by 4 words, so that the lanes reading word
// 4 chunk + t of rows g = 0..7 hit 32 different banks), and the rows' scales
// and biases of the stage's groups (up to 8), as raw 16-bit values.
struct alignas(16) QmvStage {
  uint32_t w[kMmaTileRows][kStageWords + 4];
  uint16_t s[kMmaTileRows][8], b[kMmaTileRows][8];
};

template <typename T>
__device__ inline float param(const uint16_t& raw) {
  return to_float(*reinterpret_cast<const T*>(&raw));
}

// A block's warps form kMmaWarps / warps_k tiles of 16 rows, each split over
// warps_k warps by whole stages; CPG is the group's 32-value chunks.
template <typename T, int CPG>
__global__ void __launch_bounds__(kMmaThreads) qmv_mma_kernel(QmvArgs<T> a, int warps_k) {
  using F = Half2Format<T>;
  constexpr int GPS = kStageValues / 32 / CPG;  // groups a stage: 8, 4 or 2
  constexpr int kParamBytes = 2 * GPS;          // a row's scales of a stage
  __shared__ QmvStage stages[kMmaWarps][kStages];
  __shared__ float partial[kMmaWarps][32][4];
  pdl_begin();
  int s = 0;
  while (s + 1 < a.count && blockIdx.x >= a.first_block[s + 1]) ++s;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  const int wk = warp % warps_k, tiles = kMmaWarps / warps_k;
  const int64_t n = a.n[s];
  const int64_t row0 = ((int64_t{blockIdx.x} - a.first_block[s]) * tiles + warp / warps_k) * kMmaTileRows;
  const int64_t batch = blockIdx.y;
  const int groups = a.k / a.group, stages_per_row = a.k / kStageValues;
  const int64_t row_words = a.k / 8;
  const int st0 = stages_per_row * wk / warps_k, st1 = stages_per_row * (wk + 1) / warps_k;
  QmvStage* ring = stages[warp];

  // Copies: the lane's 16-byte pieces lane + 32 j of the 16 rows x 128 bytes
  // of words, and row lane % 16's scales (lanes 0-15) or biases (16-31).
  // Rows past the end read the last row; their results are dropped.
  const uint32_t* w = a.w[s] + batch * a.w_batch;
  const int prow = lane & 15;
  const T* params = (lane < 16 ? a.scales[s] + batch * a.s_batch : a.biases[s] + batch * a.b_batch) +
                    (row0 + prow < n ? row0 + prow : n - 1) * groups;
  auto issue = [&](int stage) {
    if (stage < st1) {
      QmvStage& dst = ring[stage % kStages];
#pragma unroll
      for (int j = 0; j < kMmaTileRows * kStageWords / 4 / 32; ++j) {
        const int q = lane + 32 * j, r = q / (kStageWords / 4), piece = q % (kStageWords / 4);
        const int64_t row = row0 + r < n ? row0 + r : n - 1;
        cp_async16(&dst.w[r][piece * 4], w + row * row_words + int64_t{stage} * kStageWords + piece * 4);
      }
      uint16_t* to = lane < 16 ? dst.s[prow] : dst.b[prow];
      if constexpr (kParamBytes == 16) cp_async16(to, params + stage * GPS);
      else cp_async_small<kParamBytes>(to, params + stage * GPS);
    }
    cp_async_commit();  // empty past the end: the waits below count groups
  };

  // Column g of the x operand is row g of x (zero past its rows).
  const bool has_x = g < a.m;
  const T* x = a.x + batch * a.x_batch + int64_t{has_x ? g : 0} * a.k + t * 8;
  const uint32_t magic = F::magic, ones = F::ones;
  float acc[4] = {};
  if (row0 < n) {
#pragma unroll
    for (int i = 0; i < kStages - 1; ++i) issue(st0 + i);
    for (int stage = st0; stage < st1; ++stage) {
      issue(stage + kStages - 1);
      cp_async_wait<kStages - 1>();  // this lane's copies of `stage` have landed
      __syncwarp();                  // and every lane's
      const QmvStage& cur = ring[stage % kStages];
      const T* xs = x + int64_t{stage} * kStageValues;
#pragma unroll
      for (int u = 0; u < GPS; ++u) {
        float dot[4] = {}, xsum[4] = {};
#pragma unroll
        for (int c = 0; c < CPG; ++c) {
          const int chunk = u * CPG + c;
          // x values 0..7 of the lane's word, paired as its levels are: (0, 4), (1, 5), (2, 6), (3, 7).
          const uint4 X = has_x ? *reinterpret_cast<const uint4*>(xs + chunk * 32) : make_uint4(0, 0, 0, 0);
          const uint32_t x04 = __byte_perm(X.x, X.z, 0x5410), x15 = __byte_perm(X.x, X.z, 0x7632);
          const uint32_t x26 = __byte_perm(X.y, X.w, 0x5410), x37 = __byte_perm(X.y, X.w, 0x7632);
          const uint32_t A = cur.w[g][chunk * 4 + t], B = cur.w[g + 8][chunk * 4 + t];
          const uint32_t lo[4] = {level_pair<0>(A, magic), level_pair<0>(B, magic), level_pair<1>(A, magic),
                                  level_pair<1>(B, magic)};
          const uint32_t hi[4] = {level_pair<2>(A, magic), level_pair<2>(B, magic), level_pair<3>(A, magic),
                                  level_pair<3>(B, magic)};
          const uint32_t all_ones[4] = {ones, ones, ones, ones};
          mma_16816<T>(dot, lo, x04, x15);
          mma_16816<T>(xsum, all_ones, x04, x15);
          mma_16816<T>(dot, hi, x26, x37);
          mma_16816<T>(xsum, all_ones, x26, x37);
        }
        // dot: (row g | g + 8, column 2t | 2t + 1) sums of (offset + q) x; xsum: the columns' sums of x.
        const float sA = param<T>(cur.s[g][u]), sB = param<T>(cur.s[g + 8][u]);
        const float cA = param<T>(cur.b[g][u]) - F::offset * sA, cB = param<T>(cur.b[g + 8][u]) - F::offset * sB;
        acc[0] += sA * dot[0] + cA * xsum[0];
        acc[1] += sA * dot[1] + cA * xsum[1];
        acc[2] += sB * dot[2] + cB * xsum[2];
        acc[3] += sB * dot[3] + cB * xsum[3];
      }
      __syncwarp();  // all lanes are done with the buffer before it is refilled
    }
  }
  // The tile's warps add up their parts of K; the first stores.
#pragma unroll
  for (int i = 0; i < 4; ++i) partial[warp][lane][i] = acc[i];
  __syncthreads();
  if (wk != 0 || row0 >= n) return;
  for (int other = 1; other < warps_k; ++other)
#pragma unroll
    for (int i = 0; i < 4; ++i) acc[i] += partial[warp + other][lane][i];
  T* y = a.y[s] + batch * a.y_batch;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int col = 2 * t + (i & 1);
    const int64_t row = row0 + g + (i >= 2 ? 8 : 0);
    if (col < a.m && row < n) y[int64_t{col} * n + row] = from_float<T>(acc[i]);
  }
}

}  // namespace

template <typename T>
bool launch_qmv_mma(QmvArgs<T> args, int64_t batch, int bits, cudaStream_t st) {
  // Whole stages per row keep every cp.async source aligned (a stage's
  // scales start at a multiple of its group count).
  if (bits != 4 || (args.group != 32 && args.group != 64 && args.group != 128) || args.m > 8 ||
      args.k % kStageValues != 0)
    return false;
  const int stages_per_row = args.k / kStageValues;
  int64_t tiles = 0;
  for (int s = 0; s < args.count; ++s) tiles += (args.n[s] + kMmaTileRows - 1) / kMmaTileRows;
  // Split K over more of a block's warps while the grid has under 16 warps
  // a multiprocessor and each warp keeps two or more stages.
  int warps_k = 1;
  while (warps_k < kMmaWarps && tiles * batch * warps_k < 16 * int64_t{device_props().multiProcessorCount} &&
         stages_per_row >= 4 * warps_k)
    warps_k *= 2;
  deal_blocks(args, int64_t{kMmaWarps / warps_k} * kMmaTileRows);
  auto go = [&](auto cpg) {
    for_batch_slices(args, batch, [&](const QmvArgs<T>& part, dim3 grid) {
      launch_dependent(qmv_mma_kernel<T, decltype(cpg)::value>, grid, kMmaThreads, 0, st, part, warps_k);
    });
  };
  if (args.group == 32) go(std::integral_constant<int, 1>{});
  else if (args.group == 64) go(std::integral_constant<int, 2>{});
  else go(std::integral_constant<int, 4>{});
  return true;
}

template bool launch_qmv_mma<bfloat16_t>(QmvArgs<bfloat16_t>, int64_t, int, cudaStream_t);
template bool launch_qmv_mma<float16_t>(QmvArgs<float16_t>, int64_t, int, cudaStream_t);

}  // namespace lmx::cu
