// Per-ISA products of a tall matrix with a narrow one (a few dozen
// columns), as a convolution's patch matrices meet its weight: OpenBLAS's
// sgemm ran them at half of torch's speed (it is tuned for wide operands).
// Row-major float32 throughout.
#pragma once

#include <cstdint>

#include "lmx/backend/cpu/kernels/per_isa.h"

namespace lmx::cpu {
// The narrow kernels read their narrow operand's rows (and write c's, for
// the transpose) padded with zeros to a multiple of this many floats.
constexpr int64_t kNarrowGemmPad = 16;
inline int64_t narrow_gemm_padded(int64_t n) { return (n + kNarrowGemmPad - 1) / kNarrowGemmPad * kNarrowGemmPad; }
}  // namespace lmx::cpu

#define LMX_CPU_NARROW_GEMM_ENTRY_POINTS                                                                  \
  /* c[r, j] = sum_q a[r * ars + q * acs] * b[q * ldb + j] for r < rows, j < n, q < k (a row-major with \
     acs 1, or column-major with ars 1); b's rows are padded with zeros to ldb (narrow_gemm_padded), and   \
     only c's first n columns are written */                                                            \
  void narrow_gemm(const float* a, int64_t ars, int64_t acs, int64_t rows, int64_t k, const float* b,       \
                   int64_t ldb, int64_t n, float* c, int64_t ldc);                                         \
  /* c[q * ldc + j] += sum_r a[r * ars + q * acs] * g[r * ldg + j] for q < k, j < n, r < rows: the narrow \
     gemm's transpose, summing over the tall side (ldc narrow_gemm_padded, c's padding columns included) */ \
  void narrow_gemm_tn(const float* a, int64_t ars, int64_t acs, const float* g, int64_t ldg, int64_t rows,  \
                      int64_t k, int64_t n, float* c, int64_t ldc);

LMX_CPU_DECLARE_PER_ISA(LMX_CPU_NARROW_GEMM_ENTRY_POINTS)
