// Affine-quantised weights on the CPU (built per ISA): unpacking 8 values of
// `bits` bits (exactly `bits` bytes) at a time into float lanes, for the
// dequantisation that feeds gemm (prefill) and for the fused dot products of
// the matrix-vector path (decode), where sum_k x_k (s q_k + b) is computed as
// s * sum_k x_k q_k + b * sum_k x_k so the weights never leave their packing.
#include <cstdint>
#include <cstring>

#include "lmx/backend/common/isa_namespace.h"
#include "lmx/backend/cpu/kernels/kernels.h"

namespace lmx::cpu::LMX_KERNELS_NS {

namespace {

#include "lmx/backend/cpu/kernels/vec8.h"

typedef uint8_t u8x8 __attribute__((vector_size(8)));

// The 8 values packed LSB-first in `bits` bytes at p (bits <= 8, so values
// 0-3 lie in the low 32 bits of the chunk and 4-7 in the 32 bits at 4*bits).
template <int Bits>
inline f32x8 unpack8(const uint8_t* p) {
  if constexpr (Bits == 8) {  // whole bytes: a zero-extension
    u8x8 b;
    std::memcpy(&b, p, 8);
    return __builtin_convertvector(b, f32x8);
  } else {
    uint64_t v = 0;
    std::memcpy(&v, p, Bits);
    uint32_t lo = static_cast<uint32_t>(v), hi = static_cast<uint32_t>(v >> (4 * Bits));
    const u32x8 words = {lo, lo, lo, lo, hi, hi, hi, hi};
    const u32x8 shifts = {0, Bits, 2 * Bits, 3 * Bits, 0, Bits, 2 * Bits, 3 * Bits};
    const u32x8 mask = u32x8{} + ((1u << Bits) - 1);
    return __builtin_convertvector((words >> shifts) & mask, f32x8);
  }
}

#if defined(__AVX512F__)
// 16 values per step where registers hold 16 floats.
typedef float fvec __attribute__((vector_size(64)));
constexpr int kStep = 16;
template <int Bits>
inline fvec unpack_step(const uint8_t* p) {
  return __builtin_shufflevector(unpack8<Bits>(p), unpack8<Bits>(p + Bits), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                 13, 14, 15);
}
inline fvec load_step(const float* p) {
  fvec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
#else
typedef f32x8 fvec;
constexpr int kStep = 8;
template <int Bits>
inline fvec unpack_step(const uint8_t* p) {
  return unpack8<Bits>(p);
}
inline fvec load_step(const float* p) { return load8(p); }
#endif

template <int Bits>
__attribute__((optimize("fp-contract=off"))) void dequantize_impl(const uint8_t* w, const float* scales, const float* biases, int group, size_t n, float* out) {
  const size_t groups = n / group;
  for (size_t g = 0; g < groups; ++g) {
    const f32x8 s = f32x8{} + scales[g], b = f32x8{} + biases[g];
    for (int c = 0; c < group / 8; ++c) {
      f32x8 y = unpack8<Bits>(w) * s + b;
      std::memcpy(out, &y, sizeof y);
      w += Bits;
      out += 8;
    }
  }
}

// Rows rows of x against one packed weight row. The rows share each unpacked
// chunk of weights; per-group sums stay in vector registers, scaled by the
// group's scale, and are reduced once at the end.
template <int Bits, int Rows>
void qmv_rows(const uint8_t* w, const float* x, int64_t ldx, int k, int group, const float* scales,
              const float* biases, const float* xsum, int64_t ldxsum, float* out, int64_t ldo) {
  const int groups = k / group, steps = group / kStep;
  fvec total[Rows] = {};
  float bias_total[Rows] = {};
  for (int g = 0; g < groups; ++g) {
    fvec acc[Rows] = {};
    const float* xg = x + g * group;
    for (int c = 0; c < steps; ++c, w += Bits * kStep / 8) {
      const fvec q = unpack_step<Bits>(w);
      for (int r = 0; r < Rows; ++r) acc[r] += q * load_step(xg + r * ldx + kStep * c);
    }
    const fvec s = fvec{} + scales[g];
    for (int r = 0; r < Rows; ++r) {
      total[r] += acc[r] * s;
      bias_total[r] += biases[g] * xsum[r * ldxsum + g];
    }
  }
  for (int r = 0; r < Rows; ++r) out[r * ldo] = hsum(total[r]) + bias_total[r];
}

template <int Bits>
void qmv_impl(const uint8_t* w, const float* x, int64_t ldx, int m, int k, int group, const float* scales,
              const float* biases, const float* xsum, int64_t ldxsum, float* out, int64_t ldo) {
  for (int r0 = 0; r0 < m; r0 += 4) {
    const float* xr = x + r0 * ldx;
    const float* sr = xsum + r0 * ldxsum;
    float* o = out + r0 * ldo;
    switch (m - r0 < 4 ? m - r0 : 4) {
      case 1: qmv_rows<Bits, 1>(w, xr, ldx, k, group, scales, biases, sr, ldxsum, o, ldo); break;
      case 2: qmv_rows<Bits, 2>(w, xr, ldx, k, group, scales, biases, sr, ldxsum, o, ldo); break;
      case 3: qmv_rows<Bits, 3>(w, xr, ldx, k, group, scales, biases, sr, ldxsum, o, ldo); break;
      default: qmv_rows<Bits, 4>(w, xr, ldx, k, group, scales, biases, sr, ldxsum, o, ldo); break;
    }
  }
}

template <template <int> class F, typename... Args>
void with_bits(int bits, Args&&... args) {
  switch (bits) {
    case 1: return F<1>::run(args...);
    case 2: return F<2>::run(args...);
    case 3: return F<3>::run(args...);
    case 4: return F<4>::run(args...);
    case 5: return F<5>::run(args...);
    case 6: return F<6>::run(args...);
    case 8: return F<8>::run(args...);
  }
}

template <int Bits>
struct Dequantize {
  template <typename... A>
  static void run(A... a) { dequantize_impl<Bits>(a...); }
};
template <int Bits>
struct Qmv {
  template <typename... A>
  static void run(A... a) { qmv_impl<Bits>(a...); }
};

}  // namespace

void affine_dequantize(const uint8_t* w, const float* scales, const float* biases, int bits, int group, size_t n,
                       float* out) {
  with_bits<Dequantize>(bits, w, scales, biases, group, n, out);
}

void affine_qmv(const uint8_t* w, const float* x, int64_t ldx, int m, int k, int bits, int group, const float* scales,
                const float* biases, const float* xsum, int64_t ldxsum, float* out, int64_t ldo) {
  with_bits<Qmv>(bits, w, x, ldx, m, k, group, scales, biases, xsum, ldxsum, out, ldo);
}

}  // namespace lmx::cpu::LMX_KERNELS_NS
