// Every gemm of the CPU backend goes through here: OpenBLAS runs
// single-threaded and lmx's own pool splits the work. OpenBLAS's threads
// split a 2048x128x128 product no faster than one thread does, and after
// each product they busy-wait (0.1 s by default) on the core that the pool's
// elementwise work between products needs; one pool for both avoids that.
#pragma once

#include <cstdint>

#include "lmx/dtype.h"

namespace lmx::cpu {

// Products of at most this many multiply-adds (m * n * k) run on the calling
// thread: a wake-up costs more than splitting them saves.
constexpr int64_t kGemmSplitWork = int64_t{65536} * 4;

// C = alpha op(A) op(B) + beta C for row-major matrices (T float, double or
// complex64_t), cut into blocks of C's rows (or columns, when C is wider than
// tall) that run side by side on the pool when the product is large enough.
template <typename T>
void gemm(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta,
          T* c, int ldc);

// The same product on the calling thread alone.
template <typename T>
void gemm_one_thread(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b,
                     int ldb, T beta, T* c, int ldc);

// Many independent products (a batched matmul, attention heads) run side by
// side on the pool, each through gemm_one_thread, when there are at least as
// many as threads; else one after another, each split by gemm.
bool gemms_side_by_side(int64_t count);

// OpenBLAS's own threads for the duration of a LAPACK call, whose blocked
// algorithms are not split by the pool.
class LapackThreads {
 public:
  LapackThreads();
  ~LapackThreads();
  LapackThreads(const LapackThreads&) = delete;
  LapackThreads& operator=(const LapackThreads&) = delete;
};

}  // namespace lmx::cpu
