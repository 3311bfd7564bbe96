// What OpenBLAS does with threads, for callers that run many small products
// side by side on lmx's own thread pool.
#pragma once

#include <cstdint>

namespace lmx::cpu {

// OpenBLAS runs a gemm of at most this many multiply-adds (m * n * k) on the
// calling thread alone (SMP_THRESHOLD_MIN x GEMM_MULTITHREAD_THRESHOLD,
// 65536 x 4, in its interface/gemm.c) and starts its own threads only for
// larger ones. Products this small may therefore run concurrently from the
// pool's threads (its pthreads build allocates buffers under a lock) without
// two thread pools competing for the cores; one at a time, each would leave
// all cores but one idle.
constexpr int64_t kBlasSingleThreadWork = int64_t{65536} * 4;

inline bool blas_single_threaded(int64_t m, int64_t n, int64_t k) { return m * n * k <= kBlasSingleThreadWork; }

}  // namespace lmx::cpu
