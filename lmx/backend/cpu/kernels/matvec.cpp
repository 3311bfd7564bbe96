// Rows of float32 x against one row of weights (built per ISA): the
// matrix-vector products of decode. 16-bit weights are read in their own
// width (widening the whole weight to float32 for sgemm first would move
// three times the bytes and allocate a weight-sized buffer per call); float32
// ones stream at memory speed where sgemv, for one row, does not.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "lmx/backend/common/isa_namespace.h"
#include "lmx/backend/cpu/kernels/kernels.h"
#include "lmx/half_types.h"

namespace lmx::cpu::LMX_KERNELS_NS {

namespace {

#include "lmx/backend/cpu/kernels/vec8.h"

typedef uint16_t u16x8 __attribute__((vector_size(16)));

enum class W { f32, bf16, f16 };

// Eight weights as floats: bfloat16 is float's upper half (a shift); float16
// goes through F16C's one instruction where the build has it (GCC does not
// turn the portable conversion, with its subnormal and NaN branches, into it).
template <W Kind, typename T>
inline f32x8 widen8(const T* p) {
  if constexpr (Kind == W::f32) {
    return load8(p);
  } else if constexpr (Kind == W::bf16) {
    u16x8 h;
    std::memcpy(&h, p, sizeof h);
    u32x8 w = __builtin_convertvector(h, u32x8) << 16;
    f32x8 f;
    std::memcpy(&f, &w, sizeof f);
    return f;
  } else {
    f32x8 f;
#if defined(__F16C__)
    const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    std::memcpy(&f, &v, sizeof f);
#else
    for (int i = 0; i < 8; ++i) f[i] = static_cast<float>(float16_t::from_bits(p[i]));
#endif
    return f;
  }
}

template <W Kind, typename T>
float widen1(T v) {
  if constexpr (Kind == W::f32) {
    return v;
  } else if constexpr (Kind == W::bf16) {
    uint32_t w = static_cast<uint32_t>(v) << 16;
    float f;
    std::memcpy(&f, &w, sizeof f);
    return f;
  } else {
    return static_cast<float>(float16_t::from_bits(v));
  }
}

// Rows rows of x share each widened chunk of the weight row. Each row keeps
// U independent accumulators (U chunks per step), so the adds do not wait on
// one another: with a single chain, one row runs at an add's latency rather
// than at the loads' pace.
template <W Kind, int Rows, typename T>
void dot_rows(const T* w, const float* x, int64_t ldx, int64_t k, float* out, int64_t ldo) {
  constexpr int U = Rows == 1 ? 4 : Rows == 2 ? 2 : 1;
  f32x8 acc[Rows][U] = {};
  int64_t i = 0;
  for (; i + 8 * U <= k; i += 8 * U)
    for (int u = 0; u < U; ++u) {
      const f32x8 wv = widen8<Kind>(w + i + 8 * u);
      for (int r = 0; r < Rows; ++r) acc[r][u] += wv * load8(x + r * ldx + i + 8 * u);
    }
  for (; i + 8 <= k; i += 8) {
    const f32x8 wv = widen8<Kind>(w + i);
    for (int r = 0; r < Rows; ++r) acc[r][0] += wv * load8(x + r * ldx + i);
  }
  for (int r = 0; r < Rows; ++r) {
    for (int u = 1; u < U; ++u) acc[r][0] += acc[r][u];
    float s = hsum(acc[r][0]);
    for (int64_t t = i; t < k; ++t) s += widen1<Kind>(w[t]) * x[r * ldx + t];
    out[r * ldo] = s;
  }
}

// Rows rows of x against n4 (a multiple of 4) weight rows w, w + ldw, ...,
// four at a time: twelve or fewer independent chains, and one interleaved
// reduction for the four sums of each row of x instead of four (decode
// attention's keys are short rows, 64 or 128 values, where the reductions
// cost as much as the products).
template <W Kind, int Rows, typename T>
void dot_rows4(const T* w, int64_t ldw, int64_t n4, const float* x, int64_t ldx, int64_t k, float* out,
               int64_t ldo) {
  const int64_t row_bytes = k * static_cast<int64_t>(sizeof(T));
  for (int64_t j0 = 0; j0 < n4; j0 += 4, w += 4 * ldw) {
    // The next four rows, ahead of their loads (a decode product streams
    // its weight from memory once). Past the last row a prefetch of memory
    // not ours is harmless: it never faults.
    if (ldw == k)
      for (int64_t o = 0; o < 4 * row_bytes; o += 64)
        __builtin_prefetch(reinterpret_cast<const char*>(w + 4 * ldw) + o);
    f32x8 acc[Rows][4];
    for (int r = 0; r < Rows; ++r)
      for (int j = 0; j < 4; ++j) acc[r][j] = f32x8{};
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
      f32x8 xv[Rows];
      for (int r = 0; r < Rows; ++r) xv[r] = load8(x + r * ldx + i);
      for (int j = 0; j < 4; ++j) {
        const f32x8 wv = widen8<Kind>(w + j * ldw + i);
        for (int r = 0; r < Rows; ++r) acc[r][j] += wv * xv[r];
      }
    }
    for (int r = 0; r < Rows; ++r) {
      const f32x4 s = hsum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
      for (int j = 0; j < 4; ++j) {
        float v = s[j];
        for (int64_t t = i; t < k; ++t) v += widen1<Kind>(w[j * ldw + t]) * x[r * ldx + t];
        out[r * ldo + j0 + j] = v;
      }
    }
  }
}

template <W Kind, typename T>
void dot_impl(const T* w, const float* x, int64_t ldx, int m, int64_t k, float* out, int64_t ldo) {
  for (int r0 = 0; r0 < m; r0 += 4) {
    const float* xr = x + r0 * ldx;
    float* o = out + r0 * ldo;
    switch (m - r0 < 4 ? m - r0 : 4) {
      case 1: dot_rows<Kind, 1>(w, xr, ldx, k, o, ldo); break;
      case 2: dot_rows<Kind, 2>(w, xr, ldx, k, o, ldo); break;
      case 3: dot_rows<Kind, 3>(w, xr, ldx, k, o, ldo); break;
      default: dot_rows<Kind, 4>(w, xr, ldx, k, o, ldo); break;
    }
  }
}

}  // namespace

namespace {

// Weight rows four at a time, against up to three rows of x at once (with
// four weight rows, twelve accumulators fit AVX2's sixteen registers).
constexpr int64_t kL1Bytes = 32 * 1024;
template <W Kind, typename T>
void matvec_impl(const T* w, int64_t ldw, int64_t n, const float* x, int64_t ldx, int m, int64_t k, float* out,
                 int64_t ldo) {
  // More than three rows of x walk the four weight rows again per three,
  // which pays only while those stay in L1 (float32 rows of 4096 did not).
  const bool rows4 = k >= 8 && (m <= 3 || 4 * k * static_cast<int64_t>(sizeof(T)) <= kL1Bytes);
  const int64_t n4 = rows4 ? n / 4 * 4 : 0;
  for (int r0 = 0; r0 < m && n4; r0 += 3) {
    const float* xr = x + r0 * ldx;
    float* o = out + r0 * ldo;
    switch (m - r0 < 3 ? m - r0 : 3) {
      case 1: dot_rows4<Kind, 1>(w, ldw, n4, xr, ldx, k, o, ldo); break;
      case 2: dot_rows4<Kind, 2>(w, ldw, n4, xr, ldx, k, o, ldo); break;
      default: dot_rows4<Kind, 3>(w, ldw, n4, xr, ldx, k, o, ldo); break;
    }
  }
  int64_t j = n4;
  for (; j < n; ++j) dot_impl<Kind>(w + j * ldw, x, ldx, m, k, out + j, ldo);
}

// fn(kind tag, typed pointer) for a float32, bfloat16 or float16 matrix.
template <typename Fn>
void with_kind(const void* p, Dtype t, Fn fn) {
  if (t == float32) fn(std::integral_constant<W, W::f32>{}, static_cast<const float*>(p));
  else if (t == bfloat16) fn(std::integral_constant<W, W::bf16>{}, static_cast<const uint16_t*>(p));
  else fn(std::integral_constant<W, W::f16>{}, static_cast<const uint16_t*>(p));
}

}  // namespace

void matvec_rows(const void* w, Dtype w_type, int64_t ldw, int64_t n, const float* x, int64_t ldx, int m,
                 int64_t k, float* out, int64_t ldo) {
  with_kind(w, w_type, [&](auto kind, const auto* wt) { matvec_impl<kind()>(wt, ldw, n, x, ldx, m, k, out, ldo); });
}

namespace {

// Rows vectors against the matrix: each row of it is loaded once and serves
// them all; kSweep * kStep columns at a time stay in registers across the
// whole walk. AVX-512 sweeps 16-lane vectors, so decode attention's values
// (64 columns against up to four rows of scores) take one walk down V, not
// two: V comes from memory, and a second walk read the other half of each
// row's lines behind the prefetcher's back.
// kStep weights (vec8.h's register width) as floats.
template <W Kind, typename T>
inline fvec widen_step(const T* p) {
#if defined(__AVX512F__)
  return __builtin_shufflevector(widen8<Kind>(p), widen8<Kind>(p + 8), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                 14, 15);
#else
  return widen8<Kind>(p);
#endif
}
// Columns [c, c + Sweep * kStep) against Rows vectors, in one walk down the
// matrix; the first walk (c == 0) prefetches whole rows ahead.
template <W Kind, int Rows, int Sweep, typename T>
void vecmat_sweep(const float* x, int64_t ldx, int64_t n, const T* a, int64_t lda, int64_t cols, int64_t c,
                  float* out, int64_t ldo) {
  constexpr int64_t kAhead = 8;  // rows
  const int64_t row_bytes = cols * static_cast<int64_t>(sizeof(T));
  fvec acc[Rows][Sweep] = {};
  for (int64_t j = 0; j < n; ++j) {
    if (c == 0)
      for (int64_t o = 0; o < row_bytes; o += 64)
        __builtin_prefetch(reinterpret_cast<const char*>(a + (j + kAhead) * lda) + o);
    fvec av[Sweep];
    for (int v = 0; v < Sweep; ++v) av[v] = widen_step<Kind>(a + j * lda + c + kStep * v);
    for (int r = 0; r < Rows; ++r) {
      const float xj = x[r * ldx + j];
      for (int v = 0; v < Sweep; ++v) acc[r][v] += xj * av[v];
    }
  }
  for (int r = 0; r < Rows; ++r) std::memcpy(out + r * ldo + c, acc[r], sizeof acc[r]);
}

// Wide sweeps first, then one vector at a time (a head of 32 or 96 values
// is not a multiple of AVX-512's 64-column sweep), then single columns.
template <W Kind, int Rows, typename T>
void vecmat_rows(const float* x, int64_t ldx, int64_t n, const T* a, int64_t lda, int64_t cols, float* out,
                 int64_t ldo) {
#if defined(__AVX512F__)
  constexpr int kSweep = 4;
#else
  constexpr int kSweep = 2;
#endif
  int64_t c = 0;
  for (; c + kStep * kSweep <= cols; c += kStep * kSweep)
    vecmat_sweep<Kind, Rows, kSweep>(x, ldx, n, a, lda, cols, c, out, ldo);
  for (; c + kStep <= cols; c += kStep) vecmat_sweep<Kind, Rows, 1>(x, ldx, n, a, lda, cols, c, out, ldo);
  for (; c < cols; ++c)
    for (int r = 0; r < Rows; ++r) {
      float s = 0;
      for (int64_t j = 0; j < n; ++j) s += x[r * ldx + j] * widen1<Kind>(a[j * lda + c]);
      out[r * ldo + c] = s;
    }
}

template <W Kind, typename T>
void vecmat_impl(const float* x, int64_t ldx, int m, int64_t n, const T* a, int64_t lda, int64_t cols, float* out,
                 int64_t ldo) {
  for (int r0 = 0; r0 < m; r0 += 4) {
    const float* xr = x + r0 * ldx;
    float* o = out + r0 * ldo;
    switch (m - r0 < 4 ? m - r0 : 4) {
      case 1: vecmat_rows<Kind, 1>(xr, ldx, n, a, lda, cols, o, ldo); break;
      case 2: vecmat_rows<Kind, 2>(xr, ldx, n, a, lda, cols, o, ldo); break;
      case 3: vecmat_rows<Kind, 3>(xr, ldx, n, a, lda, cols, o, ldo); break;
      default: vecmat_rows<Kind, 4>(xr, ldx, n, a, lda, cols, o, ldo); break;
    }
  }
}

}  // namespace

void vecmat(const float* x, int64_t ldx, int m, int64_t n, const void* a, Dtype a_type, int64_t lda, int64_t cols,
            float* out, int64_t ldo) {
  with_kind(a, a_type, [&](auto kind, const auto* at) { vecmat_impl<kind()>(x, ldx, m, n, at, lda, cols, out, ldo); });
}

}  // namespace lmx::cpu::LMX_KERNELS_NS
