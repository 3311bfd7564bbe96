// Rows of float32 x against one row of weights (built per ISA): the
// matrix-vector products of decode. 16-bit weights are read in their own
// width (widening the whole weight to float32 for sgemm first would move
// three times the bytes and allocate a weight-sized buffer per call); float32
// ones stream at memory speed where sgemv, for one row, does not.
#include <algorithm>
#include <cstdint>
#include <cstring>
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

void matvec_rows(const void* w, Dtype w_type, const float* x, int64_t ldx, int m, int64_t k, float* out,
                 int64_t ldo) {
  if (w_type == float32) dot_impl<W::f32>(static_cast<const float*>(w), x, ldx, m, k, out, ldo);
  else if (w_type == bfloat16) dot_impl<W::bf16>(static_cast<const uint16_t*>(w), x, ldx, m, k, out, ldo);
  else dot_impl<W::f16>(static_cast<const uint16_t*>(w), x, ldx, m, k, out, ldo);
}

void vecmat(const float* x, int64_t n, const float* a, int64_t lda, int64_t cols, float* out) {
  std::fill(out, out + cols, 0.0f);
  for (int64_t j = 0; j < n; ++j) {
    const float xj = x[j];
    if (xj == 0.0f) continue;  // a masked key
    const float* aj = a + j * lda;
    for (int64_t c = 0; c < cols; ++c) out[c] += xj * aj[c];
  }
}

}  // namespace lmx::cpu::LMX_KERNELS_NS
