// Matmul on the GPU through cuBLAS: float32 (full precision, TF32 off as in
// MLX), float16 and bfloat16 (float32 accumulation), batched with broadcast
// batch dims read in place whenever their strides allow.
#include <cublas_v2.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "lmx/backend/common/strided.h"
#include "lmx/backend/cuda/cuda.h"
#include "lmx/backend/cuda/kernels.h"

namespace lmx::cu {

namespace {

void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("[matmul] ") + what + " failed: " + cublasGetStatusString(s));
}

cublasHandle_t handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t x;
    check(cublasCreate(&x), "cublasCreate");
    return x;
  }();
  return h;
}

// Points cuBLAS at st and at st's own workspace. With a workspace given,
// cuBLAS never allocates while a batch is being captured into a CUDA graph;
// one per stream, because the kernels of two streams may run at once.
// Called under the handle's mutex.
void bind_stream(cudaStream_t st) {
  constexpr size_t kWorkspaceBytes = size_t{32} << 20;  // cuBLAS's advice for Hopper
  static auto* workspaces = new std::unordered_map<cudaStream_t, void*>();  // never freed: streams live on
  check(cublasSetStream(handle(), st), "cublasSetStream");
  void*& ws = (*workspaces)[st];
  if (!ws) {
    pause_capture(st, "cuBLAS workspace allocation");
    LMX_CUDA_CHECK(cudaMalloc(&ws, kWorkspaceBytes));
  }
  check(cublasSetWorkspace(handle(), ws, kWorkspaceBytes), "cublasSetWorkspace");
}

// How cuBLAS reads one operand: its matrices are row-major (or transposed)
// with leading dimension ld, batch entry i at i * batch_stride.
struct Operand {
  array storage;
  bool transposed = false;
  int64_t ld = 0, batch_stride = 0;
};

Operand operand(const array& x, cudaStream_t st) {
  int64_t rows = x.shape(-2), cols = x.shape(-1);
  int64_t rs = x.strides()[x.ndim() - 2], cs = x.strides()[x.ndim() - 1];
  Operand o;
  if (uniform_batch_stride(x, o.batch_stride)) {
    if (cs == 1 && (rs >= cols || rows == 1)) {
      o.storage = x, o.ld = std::max<int64_t>(rows == 1 ? cols : rs, 1);
      return o;
    }
    if (rs == 1 && (cs >= rows || cols == 1)) {
      o.storage = x, o.transposed = true, o.ld = std::max<int64_t>(cols == 1 ? rows : cs, 1);
      return o;
    }
  }
  array c(x.shape(), x.dtype(), std::shared_ptr<Data>{});
  copy_to_new(x, c, st);
  o.storage = c, o.ld = std::max<int64_t>(cols, 1), o.batch_stride = rows * cols;
  return o;
}

cudaDataType cuda_type(Dtype t) {
  switch (t.val()) {
    case Dtype::Val::float32: return CUDA_R_32F;
    case Dtype::Val::float16: return CUDA_R_16F;
    default: return CUDA_R_16BF;
  }
}

}  // namespace

bool matmul(const array& a, const array& b, array& out, cudaStream_t st) {
  Dtype t = out.dtype();
  if (t != float32 && t != float16 && t != bfloat16) return false;
  int64_t m = a.shape(-2), k = a.shape(-1), n = b.shape(-1);
  if (gemv(a, b, out, st)) return true;
  allocate(out, st);
  if (out.size() == 0) return true;
  if (k == 0) {
    LMX_CUDA_CHECK(cudaMemsetAsync(device_write(out), 0, out.nbytes(), st));
    return true;
  }
  Operand A = operand(a, st), B = operand(b, st);
  const void* ap = device_read(A.storage, st);
  const void* bp = device_read(B.storage, st);
  int64_t batch = static_cast<int64_t>(out.size() / (m * n));
  // Row-major C = A B is column-major C^T = B^T A^T: pass B first.
  float one = 1.0f, zero = 0.0f;
  static std::mutex mu;  // one handle, rebound to the calling stream
  std::lock_guard lk(mu);
  bind_stream(st);
  check(cublasGemmStridedBatchedEx(handle(), B.transposed ? CUBLAS_OP_T : CUBLAS_OP_N,
                                   A.transposed ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
                                   static_cast<int>(m), static_cast<int>(k), &one, bp, cuda_type(t),
                                   static_cast<int>(B.ld), B.batch_stride, ap, cuda_type(t), static_cast<int>(A.ld),
                                   A.batch_stride, &zero, device_write(out), cuda_type(t), static_cast<int>(n),
                                   m * n, static_cast<int>(batch), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmStridedBatchedEx");
  return true;
}

}  // namespace lmx::cu
