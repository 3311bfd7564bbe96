// Copy and dtype-conversion loops (built per ISA).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "lmx/backend/common/cast.h"
#include "lmx/backend/common/dispatch.h"
#include "lmx/backend/common/strided.h"
#include "lmx/backend/cpu/kernels/kernels.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx::cpu::LMX_KERNELS_NS {

namespace {

template <typename From, typename To>
void convert_run(const From* src, To* dst, size_t n) {
  size_t i = 0;
#if defined(__F16C__)
  // float16 -> float32 is exact either way; the hardware converts 8 at a
  // time where the portable form (branches for subnormals and NaN) did not
  // vectorise: 0.85-1.8 ns per element, which made a decode step convert
  // its 16-bit quantization scales slower than it multiplied.
  if constexpr (std::is_same_v<From, float16_t> && std::is_same_v<To, float>) {
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  }
#endif
  for (; i < n; ++i) dst[i] = cast_value<To>(src[i]);
}

// Transposes one 8x8 block of 2- or 4-byte elements in registers: row k of
// the block is s + k * s_stride, and row j of the result goes to
// d + j * d_stride. Eight vector loads and stores replace 64 scalar
// gathers, which made a transposing copy of 1e5 floats twice NumPy's time.
#if defined(__SSE2__)
#define LMX_HAS_BLOCK_TRANSPOSE 1
inline void transpose_block8(const uint16_t* s, int64_t s_stride, uint16_t* d, int64_t d_stride) {
  __m128i a[8], b[8], c[8];
  for (int k = 0; k < 8; ++k) a[k] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + k * s_stride));
  for (int k = 0; k < 8; k += 2) {  // interleave row pairs: (r0 r1) pairs of columns
    b[k] = _mm_unpacklo_epi16(a[k], a[k + 1]);
    b[k + 1] = _mm_unpackhi_epi16(a[k], a[k + 1]);
  }
  for (int k = 0; k < 8; k += 4) {  // then pairs of pairs
    c[k] = _mm_unpacklo_epi32(b[k], b[k + 2]);
    c[k + 1] = _mm_unpackhi_epi32(b[k], b[k + 2]);
    c[k + 2] = _mm_unpacklo_epi32(b[k + 1], b[k + 3]);
    c[k + 3] = _mm_unpackhi_epi32(b[k + 1], b[k + 3]);
  }
  for (int j = 0; j < 4; ++j) {  // top half (rows 0-3) beside bottom half (rows 4-7)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + (2 * j) * d_stride), _mm_unpacklo_epi64(c[j], c[j + 4]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + (2 * j + 1) * d_stride), _mm_unpackhi_epi64(c[j], c[j + 4]));
  }
}

inline void transpose_block8(const uint32_t* s, int64_t s_stride, uint32_t* d, int64_t d_stride) {
#if defined(__AVX__)
  __m256 a[8], t[8], u[8];
  for (int k = 0; k < 8; ++k) a[k] = _mm256_loadu_ps(reinterpret_cast<const float*>(s + k * s_stride));
  for (int k = 0; k < 8; k += 2) {
    t[k] = _mm256_unpacklo_ps(a[k], a[k + 1]);
    t[k + 1] = _mm256_unpackhi_ps(a[k], a[k + 1]);
  }
  for (int k = 0; k < 8; k += 4) {
    u[k] = _mm256_shuffle_ps(t[k], t[k + 2], 0x44);
    u[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], 0xEE);
    u[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0x44);
    u[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {  // 128-bit halves: rows 0-3 beside rows 4-7
    _mm256_storeu_ps(reinterpret_cast<float*>(d + j * d_stride), _mm256_permute2f128_ps(u[j], u[j + 4], 0x20));
    _mm256_storeu_ps(reinterpret_cast<float*>(d + (j + 4) * d_stride), _mm256_permute2f128_ps(u[j], u[j + 4], 0x31));
  }
#else
  for (int bi = 0; bi < 8; bi += 4)
    for (int bj = 0; bj < 8; bj += 4) {
      __m128 r[4];
      for (int k = 0; k < 4; ++k) r[k] = _mm_loadu_ps(reinterpret_cast<const float*>(s + (bi + k) * s_stride + bj));
      _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]);
      for (int k = 0; k < 4; ++k) _mm_storeu_ps(reinterpret_cast<float*>(d + (bj + k) * d_stride + bi), r[k]);
    }
#endif
}
#endif

// The unsigned type of a value's width when a transposing copy of it can go
// through transpose_block8 (same type in and out, 2 or 4 bytes), else void.
template <typename From, typename To>
using BlockBits = std::conditional_t<
    !std::is_same_v<From, To>, void,
    std::conditional_t<sizeof(To) == 2, uint16_t, std::conditional_t<sizeof(To) == 4, uint32_t, void>>>;

// A copy that transposes the last two dims (the source is unit-strided along
// the second-to-last, the destination along the last) goes tile by tile, so
// that a tile's reads and writes both stay in cache: 8x8 register blocks
// where the type allows (any size), scalar tiles for other types once the
// copy outgrows the cache (measured, scalar: 1e7 float32 34.8 -> 10 ms,
// while 1e5-1e6 were slower tiled than the plain row walk). False for any
// other layout or size.
template <typename From, typename To>
bool copy_transposed_tiles(const From* src, To* dst, const Shape& sh, const std::vector<Strides>& st) {
  const int nd = static_cast<int>(sh.size());
  if (nd < 2 || st[1][nd - 1] != 1 || st[0][nd - 2] != 1 || st[0][nd - 1] == 1) return false;
  const int64_t rows = sh[nd - 2], cols = sh[nd - 1];
  using Bits = BlockBits<From, To>;
#if defined(LMX_HAS_BLOCK_TRANSPOSE)
  constexpr bool blocks = !std::is_void_v<Bits>;
#else
  constexpr bool blocks = false;
#endif
  if (blocks ? (rows < 8 || cols < 8) : shape_size(sh) < (size_t{1} << 21)) return false;
  constexpr int64_t kTile = 32;
  const int64_t src_col = st[0][nd - 1], dst_row = st[1][nd - 2];
  const int64_t row_tiles = (rows + kTile - 1) / kTile;
  size_t outer = 1;
  for (int d = 0; d < nd - 2; ++d) outer *= static_cast<size_t>(sh[d]);
  parallel_for(outer * row_tiles, kTile * cols, [&](size_t b, size_t e) {
    for (size_t w = b; w < e; ++w) {
      // Offsets of outer index w / row_tiles in each operand.
      int64_t o = static_cast<int64_t>(w / row_tiles), so = 0, dof = 0;
      for (int d = nd - 3; d >= 0; --d) {
        int64_t i = o % sh[d];
        o /= sh[d];
        so += i * st[0][d], dof += i * st[1][d];
      }
      const int64_t r0 = static_cast<int64_t>(w % row_tiles) * kTile, r1 = std::min(rows, r0 + kTile);
      for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
        const int64_t c1 = std::min(cols, c0 + kTile);
        int64_t rb = r0, cb = c0;  // the first row and column the blocks leave
#if defined(LMX_HAS_BLOCK_TRANSPOSE)
        if constexpr (blocks) {
          rb = r0 + (r1 - r0) / 8 * 8, cb = c0 + (c1 - c0) / 8 * 8;
          for (int64_t r = r0; r < rb; r += 8)
            for (int64_t c = c0; c < cb; c += 8)
              transpose_block8(reinterpret_cast<const Bits*>(src + so + c * src_col + r), src_col,
                               reinterpret_cast<Bits*>(dst + dof + r * dst_row + c), dst_row);
        }
#endif
        for (int64_t r = r0; r < r1; ++r) {
          const From* s = src + so + r;
          To* d = dst + dof + r * dst_row;
          // Rows the blocks covered have only the columns from cb left.
          for (int64_t c = r < rb ? cb : c0; c < c1; ++c) d[c] = cast_value<To>(s[c * src_col]);
        }
      }
    }
  });
  return true;
}

template <typename From, typename To>
void copy_strided_typed(const From* src, const Strides& ss, To* dst, const Strides& ds, const Shape& shape) {
  Shape sh = shape;
  std::vector<Strides> strides = {ss, ds};
  collapse_dims(sh, strides);
  if (copy_transposed_tiles(src, dst, sh, strides)) return;
  const int64_t si = strides[0].back(), di = strides[1].back();
  auto span = [&](const int64_t* off, int64_t n) {
    const From* s = src + off[0];
    To* d = dst + off[1];
    if (si == 1 && di == 1) {
      if constexpr (std::is_same_v<From, To>) std::memcpy(d, s, n * sizeof(To));
      else convert_run(s, d, n);
    } else if (si == 0 && di == 1) {
      To v = cast_value<To>(*s);
      for (int64_t i = 0; i < n; ++i) d[i] = v;
    } else {
      for (int64_t i = 0; i < n; ++i) d[i * di] = cast_value<To>(s[i * si]);
    }
  };
  if (sh.size() == 1) {
    // One run (a flat copy, each input of a concatenation): threads split
    // its elements, where splitting rows left it on one thread. A plain
    // memcpy counts 4 per element towards the pool's threshold: it gains
    // from a second thread from 1e5 elements on (concatenating two 1e5
    // float32 arrays: 30 -> 16.5 us), where an add or a conversion does not.
    const size_t cost = std::is_same_v<From, To> && si == 1 && di == 1 ? 4 : 1;
    parallel_for(static_cast<size_t>(sh[0]), cost, [&](size_t b, size_t e) {
      const int64_t off[2] = {static_cast<int64_t>(b) * si, static_cast<int64_t>(b) * di};
      span(off, static_cast<int64_t>(e - b));
    });
    return;
  }
  parallel_for(outer_rows(sh), sh.back(),
               [&](size_t b, size_t e) { for_each_row_range<2>(sh, strides, b, e, span); });
}

}  // namespace

void convert_contiguous(const void* src, Dtype st, void* dst, Dtype dt, size_t n) {
  dispatch_all(st, [&](auto s) {
    using From = typename decltype(s)::type;
    dispatch_all(dt, [&](auto d) {
      using To = typename decltype(d)::type;
      convert_run(static_cast<const From*>(src), static_cast<To*>(dst), n);
    });
  });
}

void copy_to_strided(const array& src, void* dst, Dtype dt, const Strides& dst_strides) {
  if (src.size() == 0) return;
  dispatch_all(src.dtype(), [&](auto s) {
    using From = typename decltype(s)::type;
    dispatch_all(dt, [&](auto d) {
      using To = typename decltype(d)::type;
      copy_strided_typed(src.data<From>(), src.strides(), static_cast<To*>(dst), dst_strides, src.shape());
    });
  });
}

}  // namespace lmx::cpu::LMX_KERNELS_NS
