// Threefry random bits on the GPU: the same words as the CPU for the same key
// (the cipher and the counter layout are backend/common/threefry.h's).
#include "lmx/backend/common/threefry.h"
#include "lmx/backend/cuda/device_util.cuh"
#include "lmx/backend/cuda/kernels.h"

namespace lmx::cu {

namespace {

__global__ void random_bits_kernel(const uint32_t* __restrict__ key, uint32_t* __restrict__ out, uint64_t n) {
  uint64_t h = (n + 1) / 2;
  uint32_t k0 = key[0], k1 = key[1];
  LMX_GRID_STRIDE(i, static_cast<int64_t>(h)) {
    Words2 w = threefry_block(k0, k1, static_cast<uint64_t>(i), n);
    out[i] = w.x0;
    if (static_cast<uint64_t>(i) + h < n) out[i + h] = w.x1;
  }
}

}  // namespace

void random_bits(const array& key, array& out, cudaStream_t st) {
  array k = key;
  if (!key.flags().row_contiguous) {
    k = array(key.shape(), key.dtype(), std::shared_ptr<Data>{});
    copy_to_new(key, k, st);
  }
  const auto* kp = static_cast<const uint32_t*>(device_read(k, st));
  allocate(out, st);
  uint64_t n = out.size();
  if (n == 0) return;
  random_bits_kernel<<<blocks_for(static_cast<int64_t>((n + 1) / 2)), kThreads, 0, st>>>(
      kp, static_cast<uint32_t*>(device_write(out)), n);
  LMX_CUDA_CHECK(cudaGetLastError());
}

}  // namespace lmx::cu
