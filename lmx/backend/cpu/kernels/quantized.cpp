// Affine-quantised weights on the CPU (built per ISA): unpacking 8 values of
// `bits` bits (exactly `bits` bytes) at a time into float lanes, for the
// dequantisation that feeds gemm (prefill) and for the fused dot products of
// the matrix-vector path (decode), where sum_k x_k (s q_k + b) is computed as
// s * sum_k x_k q_k + b * sum_k x_k so the weights never leave their packing.
#include <cstdint>
#include <cstring>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "lmx/backend/common/isa_namespace.h"
#include "lmx/backend/cpu/kernels/kernels.h"

namespace lmx::cpu::LMX_KERNELS_NS {

namespace {

#include "lmx/backend/cpu/kernels/vec8.h"

typedef uint8_t u8x8 __attribute__((vector_size(8)));

// The 8 values packed LSB-first in `bits` bytes at p (bits <= 8, so values
// 0-3 lie in the low 32 bits of the chunk and 4-7 in the 32 bits at 4*bits).
// Conversions go through signed int32 (the values fit): GCC (12) scalarises
// u8 -> float, and has no instruction for unsigned int32 -> float below
// AVX-512.
typedef int32_t i32x8 __attribute__((vector_size(32)));
template <int Bits>
inline f32x8 unpack8(const uint8_t* p) {
  if constexpr (Bits == 8) {  // whole bytes: a zero-extension
#if defined(__AVX2__)
    __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    const __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
    f32x8 r;
    std::memcpy(&r, &f, sizeof r);
    return r;
#else
    u8x8 b;
    std::memcpy(&b, p, 8);
    return __builtin_convertvector(__builtin_convertvector(b, i32x8), f32x8);
#endif
  } else {
    // 3, 5 and 6 bytes one at a time: a memcpy of those widths into a zeroed
    // uint64 compiles (GCC 12) to stores on the stack and a reload that no
    // store can forward, which left them ~6x slower per weight than 2 bits.
    uint64_t v = 0;
    if constexpr (Bits == 1 || Bits == 2 || Bits == 4) std::memcpy(&v, p, Bits);
    else
      for (int i = 0; i < Bits; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    uint32_t lo = static_cast<uint32_t>(v), hi = static_cast<uint32_t>(v >> (4 * Bits));
    const u32x8 words = {lo, lo, lo, lo, hi, hi, hi, hi};
    const u32x8 shifts = {0, Bits, 2 * Bits, 3 * Bits, 0, Bits, 2 * Bits, 3 * Bits};
    const u32x8 mask = u32x8{} + ((1u << Bits) - 1);
    return __builtin_convertvector(reinterpret_cast<i32x8>((words >> shifts) & mask), f32x8);
  }
}

// kStep values (vec8.h's register width) unpacked at a time.
template <int Bits>
inline fvec unpack_step(const uint8_t* p) {
#if defined(__AVX512F__)
  return __builtin_shufflevector(unpack8<Bits>(p), unpack8<Bits>(p + Bits), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                 13, 14, 15);
#else
  return unpack8<Bits>(p);
#endif
}

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

typedef uint8_t u8x16 __attribute__((vector_size(16)));

// Bytes [Off, Off + kStep) of b as kStep floats. GCC (12) scalarises a direct
// u8 -> float conversion, and on AVX2 a u8 -> int32 one of the upper bytes,
// so each build says how: a zero-extension and a conversion per register.
template <int Off>
inline fvec widen(u8x16 b) {
#if defined(__AVX512F__)
  static_assert(Off == 0);
  __m128i v;
  std::memcpy(&v, &b, sizeof v);
  const __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v));
  fvec r;
  std::memcpy(&r, &f, sizeof r);
  return r;
#elif defined(__AVX2__)
  __m128i v;
  std::memcpy(&v, &b, sizeof v);
  if constexpr (Off) v = _mm_srli_si128(v, Off);
  const __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
  fvec r;
  std::memcpy(&r, &f, sizeof r);
  return r;
#else
  typedef int32_t i32x8 __attribute__((vector_size(32)));
  const u8x16 v = Off ? __builtin_shufflevector(b, b, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15) : b;
  return __builtin_convertvector(__builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7), i32x8),
                                 fvec);
#endif
}

// A 4-bit block's bytes [Off, Off + kStep) as floats: each byte whole
// (v = lo + 16 hi) and its low nibble (lo), which affine_qmv_prepare's x
// turns into the block's dot product. With AVX-512 the low nibble is a permute of
// a 16-float table indexed by the widened bytes (a permute reads only an
// index's low 4 bits), one instruction in place of a mask and a conversion.
template <int Off>
inline void nibble_floats(u8x16 b, fvec& lo, fvec& v) {
#if defined(__AVX512F__)
  static_assert(Off == 0);
  __m128i raw;
  std::memcpy(&raw, &b, sizeof raw);
  const __m512i lanes = _mm512_cvtepu8_epi32(raw);
  const __m512 table = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 low = _mm512_permutexvar_ps(lanes, table), whole = _mm512_cvtepi32_ps(lanes);
  std::memcpy(&lo, &low, sizeof lo);
  std::memcpy(&v, &whole, sizeof v);
#else
  lo = widen<Off>(b & 0xF);
  v = widen<Off>(b);
#endif
}

// Whole-byte widths, 16 bytes at a time. 8 bits: 16 values in order.
// 4 bits: the 16 bytes of a 32-value block hold its even values in their
// low nibbles and its odd values in their high nibbles; x is rewritten by
// affine_qmv_prepare (see kernels.h), so a register of bytes meets the
// block's two halves of x through nibble_floats. SmolLM2's 4-bit products ran at about
// 1.6 cycles per weight on the bit-stream form, and at twice the speed of a
// mask and a shift per register with the permute.
template <int Bits, int Rows>
void qmv_bytes_rows(const uint8_t* w, const float* x, int64_t ldx, int k, int group, const float* scales,
                    const float* biases, const float* xsum, int64_t ldxsum, float* out, int64_t ldo) {
  static_assert(Bits == 4 || Bits == 8);
  constexpr int kValues = 128 / Bits;  // per 16 bytes
  const int groups = k / group, blocks = group / kValues;
  fvec total[Rows] = {};
  float bias_total[Rows] = {};
  for (int g = 0; g < groups; ++g) {
    fvec acc[Rows] = {};
    for (int c = 0; c < blocks; ++c, w += 16) {
      u8x16 b;
      std::memcpy(&b, w, sizeof b);
      const float* xb = x + (g * blocks + c) * kValues;
      auto piece = [&]<int Off>() {  // bytes [Off, Off + kStep)
        if constexpr (Bits == 8) {
          const fvec q = widen<Off>(b);
          for (int r = 0; r < Rows; ++r) acc[r] += q * load_step(xb + r * ldx + Off);
        } else {
          fvec lo, v;
          nibble_floats<Off>(b, lo, v);
          for (int r = 0; r < Rows; ++r) {
            acc[r] += lo * load_step(xb + r * ldx + Off);
            acc[r] += v * load_step(xb + r * ldx + 16 + Off);
          }
        }
      };
      piece.template operator()<0>();
      if constexpr (kStep == 8) piece.template operator()<8>();
    }
    const fvec s = fvec{} + scales[g];
    for (int r = 0; r < Rows; ++r) {
      total[r] += acc[r] * s;
      bias_total[r] += biases[g] * xsum[r * ldxsum + g];
    }
  }
  for (int r = 0; r < Rows; ++r) out[r * ldo] = hsum(total[r]) + bias_total[r];
}

// One row of x against Cols packed rows of w (decode's usual case): each
// chunk of x is loaded once for all of them, and their Cols running sums
// over groups are independent chains (one row's chain, an FMA per group,
// bounded the single-row kernel: SmolLM2's products ran at ~0.33 cycles a
// weight from cache).
template <int Bits, int Cols>
void qmv_bytes_cols(const uint8_t* w, int64_t w_stride, const float* x, int k, int group, const float* scales,
                    const float* biases, const float* xsum, float* out) {
  static_assert(Bits == 4 || Bits == 8);
  constexpr int kValues = 128 / Bits;  // per 16 bytes
  const int groups = k / group, blocks = group / kValues;
  fvec total[Cols] = {};
  float bias_total[Cols] = {};
  for (int g = 0; g < groups; ++g) {
    fvec acc[Cols] = {};
    for (int c = 0; c < blocks; ++c) {
      const int64_t at = static_cast<int64_t>(g * blocks + c) * 16;
      const float* xb = x + (g * blocks + c) * kValues;
      auto piece = [&]<int Off>() {  // bytes [Off, Off + kStep) of each row's 16
        if constexpr (Bits == 8) {
          const fvec xv = load_step(xb + Off);
          for (int j = 0; j < Cols; ++j) {
            u8x16 b;
            std::memcpy(&b, w + j * w_stride + at, sizeof b);
            acc[j] += widen<Off>(b) * xv;
          }
        } else {
          const fvec x_lo = load_step(xb + Off), x_hi = load_step(xb + 16 + Off);
          for (int j = 0; j < Cols; ++j) {
            u8x16 b;
            std::memcpy(&b, w + j * w_stride + at, sizeof b);
            fvec lo, v;
            nibble_floats<Off>(b, lo, v);
            acc[j] += lo * x_lo;
            acc[j] += v * x_hi;
          }
        }
      };
      piece.template operator()<0>();
      if constexpr (kStep == 8) piece.template operator()<8>();
    }
    for (int j = 0; j < Cols; ++j) {
      total[j] += acc[j] * scales[j * groups + g];
      bias_total[j] += biases[j * groups + g] * xsum[g];
    }
  }
  for (int j = 0; j < Cols; ++j) out[j] = hsum(total[j]) + bias_total[j];
}

template <int Bits>
void qmv_impl(const uint8_t* w, int64_t w_stride, int64_t n, const float* x, int64_t ldx, int m, int k, int group,
              const float* scales, const float* biases, const float* xsum, int64_t ldxsum, float* out, int64_t ldo) {
  const int64_t groups = k / group;
  if constexpr (Bits == 4 || Bits == 8) {
    if (m == 1) {
      int64_t j = 0;
      for (; j + 4 <= n; j += 4) {
        // The next four rows, ahead of the loads that need them: small rows
        // left the loads' latency exposed (SmolLM2's 1536x576 product ran at
        // half its cached speed). Past the last row this touches memory the
        // caller's next call reads, and a prefetch never faults.
        for (int64_t o = 0; o < 4 * w_stride; o += 64) __builtin_prefetch(w + (j + 4) * w_stride + o);
        qmv_bytes_cols<Bits, 4>(w + j * w_stride, w_stride, x, k, group, scales + j * groups, biases + j * groups,
                                xsum, out + j);
      }
      for (; j < n; ++j)
        qmv_bytes_cols<Bits, 1>(w + j * w_stride, w_stride, x, k, group, scales + j * groups, biases + j * groups,
                                xsum, out + j);
      return;
    }
  }
  for (int64_t j = 0; j < n; ++j) {
    const uint8_t* wj = w + j * w_stride;
    const float *sj = scales + j * groups, *bj = biases + j * groups;
    for (int r0 = 0; r0 < m; r0 += 4) {
      const float* xr = x + r0 * ldx;
      const float* sr = xsum + r0 * ldxsum;
      float* o = out + r0 * ldo + j;
      auto rows = [&]<int R>() {
        if constexpr (Bits == 4 || Bits == 8)
          qmv_bytes_rows<Bits, R>(wj, xr, ldx, k, group, sj, bj, sr, ldxsum, o, ldo);
        else qmv_rows<Bits, R>(wj, xr, ldx, k, group, sj, bj, sr, ldxsum, o, ldo);
      };
      switch (m - r0 < 4 ? m - r0 : 4) {
        case 1: rows.template operator()<1>(); break;
        case 2: rows.template operator()<2>(); break;
        case 3: rows.template operator()<3>(); break;
        default: rows.template operator()<4>(); break;
      }
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

void affine_qmv_prepare(const float* x, int64_t ldx, int m, int k, int bits, int group, float* xsum, float* xq) {
  // Sixteen lanes whatever the build: a block of 32 values is two of them.
  typedef float f32x16 __attribute__((vector_size(64)));
  const int groups = k / group;
  for (int r = 0; r < m; ++r) {
    const float* xr = x + r * ldx;
    for (int g = 0; g < groups; ++g) {
      const float* xg = xr + g * group;
      int i = 0;
      f32x16 acc = {};
      for (; i + 16 <= group; i += 16) {
        f32x16 v;
        std::memcpy(&v, xg + i, sizeof v);
        acc += v;
      }
      float total = hsum(acc);
      for (; i < group; ++i) total += xg[i];
      xsum[r * groups + g] = total;
    }
    if (bits != 4) continue;
    float* q = xq + static_cast<int64_t>(r) * k;
    for (int b = 0; b < k; b += 32) {
      f32x16 lo, hi;
      std::memcpy(&lo, xr + b, sizeof lo);
      std::memcpy(&hi, xr + b + 16, sizeof hi);
      const f32x16 even = __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      const f32x16 odd =
          __builtin_shufflevector(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31) * 0.0625f;
      const f32x16 first = even - odd;
      std::memcpy(q + b, &first, sizeof first);
      std::memcpy(q + b + 16, &odd, sizeof odd);
    }
  }
}

void affine_dequantize(const uint8_t* w, const float* scales, const float* biases, int bits, int group, size_t n,
                       float* out) {
  with_bits<Dequantize>(bits, w, scales, biases, group, n, out);
}

void affine_qmv(const uint8_t* w, int64_t w_stride, int64_t n, const float* x, int64_t ldx, int m, int k, int bits,
                int group, const float* scales, const float* biases, const float* xsum, int64_t ldxsum, float* out,
                int64_t ldo) {
  with_bits<Qmv>(bits, w, w_stride, n, x, ldx, m, k, group, scales, biases, xsum, ldxsum, out, ldo);
}

}  // namespace lmx::cpu::LMX_KERNELS_NS
