// The decode products of quantized.cu: x (few rows) against affine-quantised
// matrices whose rows hold K packed values each (transposed, as
// nn.QuantizedLinear stores them). Two kernels share these operands: a
// general one for every bit width and float type (quantized.cu), and a
// tensor-core one for 4-bit matrices with 16-bit x (qmv_mma.cu).
#pragma once

#include <algorithm>
#include <cstdint>

#include "lmx/backend/cuda/device_util.cuh"
#include "lmx/primitives/quantized.h"

namespace lmx::cu {

// Rows of x up to which the matrix-vector kernels beat dequantise + gemm.
constexpr int kQmvMaxRows = 8;

// The operands of one launch: x against up to kMaxQmvWeights packed
// matrices that share K, the group size and the bits (a
// QuantizedMatmulGroup's members), the grid's blocks dealt to them in order
// (matrix s owns blocks [first_block[s], first_block[s + 1]): deal_blocks);
// or one matrix with batch dims (blockIdx.y), the batch
// strides in elements.
constexpr int kMaxQmvWeights = QuantizedMatmulGroup::kMaxMatrices;
template <typename T>
struct QmvArgs {
  const T* x;
  const uint32_t* w[kMaxQmvWeights];
  const T* scales[kMaxQmvWeights];
  const T* biases[kMaxQmvWeights];
  T* y[kMaxQmvWeights];
  int64_t n[kMaxQmvWeights];
  int64_t first_block[kMaxQmvWeights + 1];
  int count;
  int m, k, group;
  int64_t x_batch, w_batch, s_batch, b_batch, y_batch;
};

// Deals the grid's blocks out to args' matrices, rows_per_block rows a
// block: first_block[s + 1] after matrix s's blocks.
template <typename T>
void deal_blocks(QmvArgs<T>& args, int64_t rows_per_block) {
  args.first_block[0] = 0;
  for (int s = 0; s < args.count; ++s)
    args.first_block[s + 1] = args.first_block[s] + (args.n[s] + rows_per_block - 1) / rows_per_block;
}

// Calls launch(part, grid) for each slice of at most 65535 batch entries
// (the grid's y limit): part is args moved to the slice's first entry (a
// batch has one matrix), grid the dealt blocks by the slice's entries.
template <typename T, typename Launch>
void for_batch_slices(const QmvArgs<T>& args, int64_t batch, Launch&& launch) {
  for (int64_t b0 = 0; b0 < batch; b0 += 65535) {
    QmvArgs<T> part = args;
    part.x += b0 * args.x_batch, part.w[0] += b0 * args.w_batch, part.scales[0] += b0 * args.s_batch;
    part.biases[0] += b0 * args.b_batch, part.y[0] += b0 * args.y_batch;
    launch(part, dim3(static_cast<unsigned>(args.first_block[args.count]),
                      static_cast<unsigned>(std::min<int64_t>(batch - b0, 65535))));
  }
}

// Queues the tensor-core kernel for `args` (batch entries along blockIdx.y)
// and returns true when it takes them: 4 bits, group 32, 64 or 128, K a
// multiple of 256, T bfloat16 or float16; else returns false and queues
// nothing.
template <typename T>
bool launch_qmv_mma(QmvArgs<T> args, int64_t batch, int bits, cudaStream_t st);

}  // namespace lmx::cu
