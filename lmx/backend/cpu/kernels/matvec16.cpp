// Rows of float32 x against one row of 16-bit float weights (built per ISA):
// the matrix-vector products of decode with bfloat16/float16 weights, read
// in their own width. Widening the whole weight to float32 for sgemm first
// would move three times the bytes and allocate a weight-sized buffer per call.
#include <cstdint>
#include <cstring>

#include "lmx/backend/common/isa_namespace.h"
#include "lmx/backend/cpu/kernels/kernels.h"
#include "lmx/half_types.h"

namespace lmx::cpu::LMX_KERNELS_NS {

namespace {

#include "lmx/backend/cpu/kernels/vec8.h"

typedef uint16_t u16x8 __attribute__((vector_size(16)));

// Eight weights as floats: bfloat16 is float's upper half (a shift); float16
// converts value by value (F16C turns this into one instruction where built
// for it).
template <bool BF16>
inline f32x8 widen8(const uint16_t* p) {
  if constexpr (BF16) {
    u16x8 h;
    std::memcpy(&h, p, sizeof h);
    u32x8 w = __builtin_convertvector(h, u32x8) << 16;
    f32x8 f;
    std::memcpy(&f, &w, sizeof f);
    return f;
  } else {
    f32x8 f;
    for (int i = 0; i < 8; ++i) f[i] = static_cast<float>(float16_t::from_bits(p[i]));
    return f;
  }
}

template <bool BF16>
float widen1(uint16_t v) {
  if constexpr (BF16) {
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
template <bool BF16, int Rows>
void dot_rows(const uint16_t* w, const float* x, int64_t ldx, int64_t k, float* out, int64_t ldo) {
  constexpr int U = Rows == 1 ? 4 : Rows == 2 ? 2 : 1;
  f32x8 acc[Rows][U] = {};
  int64_t i = 0;
  for (; i + 8 * U <= k; i += 8 * U)
    for (int u = 0; u < U; ++u) {
      const f32x8 wv = widen8<BF16>(w + i + 8 * u);
      for (int r = 0; r < Rows; ++r) acc[r][u] += wv * load8(x + r * ldx + i + 8 * u);
    }
  for (; i + 8 <= k; i += 8) {
    const f32x8 wv = widen8<BF16>(w + i);
    for (int r = 0; r < Rows; ++r) acc[r][0] += wv * load8(x + r * ldx + i);
  }
  for (int r = 0; r < Rows; ++r) {
    for (int u = 1; u < U; ++u) acc[r][0] += acc[r][u];
    float s = hsum(acc[r][0]);
    for (int64_t t = i; t < k; ++t) s += widen1<BF16>(w[t]) * x[r * ldx + t];
    out[r * ldo] = s;
  }
}

template <bool BF16>
void dot16_impl(const uint16_t* w, const float* x, int64_t ldx, int m, int64_t k, float* out, int64_t ldo) {
  for (int r0 = 0; r0 < m; r0 += 4) {
    const float* xr = x + r0 * ldx;
    float* o = out + r0 * ldo;
    switch (m - r0 < 4 ? m - r0 : 4) {
      case 1: dot_rows<BF16, 1>(w, xr, ldx, k, o, ldo); break;
      case 2: dot_rows<BF16, 2>(w, xr, ldx, k, o, ldo); break;
      case 3: dot_rows<BF16, 3>(w, xr, ldx, k, o, ldo); break;
      default: dot_rows<BF16, 4>(w, xr, ldx, k, o, ldo); break;
    }
  }
}

}  // namespace

void dot16_rows(const uint16_t* w, bool bf16, const float* x, int64_t ldx, int m, int64_t k, float* out,
                int64_t ldo) {
  if (bf16) dot16_impl<true>(w, x, ldx, m, k, out, ldo);
  else dot16_impl<false>(w, x, ldx, m, k, out, ldo);
}

}  // namespace lmx::cpu::LMX_KERNELS_NS
