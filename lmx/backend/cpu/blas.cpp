#include "lmx/backend/cpu/blas.h"

#include <cblas.h>

#include <atomic>

#include "lmx/runtime/thread_pool.h"

namespace lmx::cpu {

namespace {

// OpenBLAS reads its thread count when the library loads, before any of
// lmx's code runs; this sets it to one as the module initialises.
const bool kOpenBlasSingleThreaded = [] {
  openblas_set_num_threads(1);
  return true;
}();

// LAPACK calls in flight (two streams may factorise at once).
std::atomic<int> lapack_calls{0};

CBLAS_TRANSPOSE op(bool t) { return t ? CblasTrans : CblasNoTrans; }

void blas_call(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
               float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, op(ta), op(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void blas_call(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda, const double* b,
               int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, op(ta), op(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void blas_call(bool ta, bool tb, int m, int n, int k, complex64_t alpha, const complex64_t* a, int lda,
               const complex64_t* b, int ldb, complex64_t beta, complex64_t* c, int ldc) {
  cblas_cgemm(CblasRowMajor, op(ta), op(tb), m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc);
}

}  // namespace

template <typename T>
void gemm(bool ta, bool tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta, T* c,
          int ldc) {
  (void)kOpenBlasSingleThreaded;
  const int64_t work = int64_t{m} * n * k;
  const int parts = work <= kGemmSplitWork ? 1 : kernel_threads();
  const bool by_rows = m >= n;
  const int len = by_rows ? m : n;
  if (parts <= 1 || len < 2 * parts) {
    blas_call(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  parallel_for(parts, static_cast<size_t>(work / parts), [&](size_t p0, size_t p1) {
    for (size_t p = p0; p < p1; ++p) {
      const int lo = static_cast<int>(len * p / parts), hi = static_cast<int>(len * (p + 1) / parts);
      if (by_rows)  // rows [lo, hi) of op(A) and of C
        blas_call(ta, tb, hi - lo, n, k, alpha, ta ? a + lo : a + int64_t{lo} * lda, lda, b, ldb, beta,
                  c + int64_t{lo} * ldc, ldc);
      else  // columns [lo, hi) of op(B) and of C
        blas_call(ta, tb, m, hi - lo, k, alpha, a, lda, tb ? b + int64_t{lo} * ldb : b + lo, ldb, beta, c + lo, ldc);
    }
  });
}

template <typename T>
void gemm_one_thread(bool ta, bool tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta,
                     T* c, int ldc) {
  blas_call(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#define LMX_GEMM_INSTANCES(T)                                                                                    \
  template void gemm<T>(bool, bool, int, int, int, T, const T*, int, const T*, int, T, T*, int);                 \
  template void gemm_one_thread<T>(bool, bool, int, int, int, T, const T*, int, const T*, int, T, T*, int);
LMX_GEMM_INSTANCES(float)
LMX_GEMM_INSTANCES(double)
LMX_GEMM_INSTANCES(complex64_t)
#undef LMX_GEMM_INSTANCES

bool gemms_side_by_side(int64_t count) { return count >= kernel_threads(); }

LapackThreads::LapackThreads() {
  if (lapack_calls.fetch_add(1) == 0) openblas_set_num_threads(kernel_threads());
}

LapackThreads::~LapackThreads() {
  if (lapack_calls.fetch_sub(1) == 1) openblas_set_num_threads(1);
}

}  // namespace lmx::cpu
