// Copy and dtype-conversion loops (built per ISA).
#include <algorithm>
#include <cstring>
#include <type_traits>
#if defined(__F16C__)
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

// A large copy that transposes the last two dims (the source is unit-strided
// along the second-to-last, the destination along the last) goes tile by
// tile, so that a tile's reads and writes both stay in cache. Smaller copies
// fit in cache anyway and the plain row walk is faster there (measured:
// 1e7 float32 34.8 -> 10 ms, while 1e5-1e6 were slower tiled). False for any
// other layout or size.
template <typename From, typename To>
bool copy_transposed_tiles(const From* src, To* dst, const Shape& sh, const std::vector<Strides>& st) {
  constexpr size_t kMinElements = size_t{1} << 21;
  const int nd = static_cast<int>(sh.size());
  if (nd < 2 || st[1][nd - 1] != 1 || st[0][nd - 2] != 1 || st[0][nd - 1] == 1) return false;
  if (shape_size(sh) < kMinElements) return false;
  constexpr int64_t kTile = 32;
  const int64_t rows = sh[nd - 2], cols = sh[nd - 1];
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
        for (int64_t r = r0; r < r1; ++r) {
          const From* s = src + so + r;
          To* d = dst + dof + r * dst_row;
          for (int64_t c = c0; c < c1; ++c) d[c] = cast_value<To>(s[c * src_col]);
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
  size_t rows = outer_rows(sh);
  int64_t inner = sh.back();
  parallel_for(rows, inner, [&](size_t b, size_t e) {
    for_each_row_range<2>(sh, strides, b, e, [&](const int64_t* off, int64_t n) {
      const From* s = src + off[0];
      To* d = dst + off[1];
      int64_t si = strides[0].back(), di = strides[1].back();
      if (si == 1 && di == 1) {
        if constexpr (std::is_same_v<From, To>) std::memcpy(d, s, n * sizeof(To));
        else convert_run(s, d, n);
      } else if (si == 0 && di == 1) {
        To v = cast_value<To>(*s);
        for (int64_t i = 0; i < n; ++i) d[i] = v;
      } else {
        for (int64_t i = 0; i < n; ++i) d[i * di] = cast_value<To>(s[i * si]);
      }
    });
  });
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
