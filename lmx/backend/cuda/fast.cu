// Fused mx.fast kernels on the GPU: rms_norm and layer_norm, a block per row,
// computed in float32 and rounded once (as the CPU kernels).
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
    unsigned grid = static_cast<unsigned>(std::min<int64_t>(rows, 1 << 20));
    if (b) layer_norm_kernel<T><<<grid, kThreads, 0, st>>>(xp, wp, bp, yp, rows, d, eps);
    else rms_norm_kernel<T><<<grid, kThreads, 0, st>>>(xp, wp, yp, rows, d, eps);
    LMX_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace lmx::cu
