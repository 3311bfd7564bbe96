// Narrow products (built per ISA): a tile of R rows by NV register-wide
// column vectors accumulates in registers while the short shared dimension
// streams by; the narrow operand's rows (a few vectors each) stay in L1.
#include "lmx/backend/cpu/kernels/narrow_gemm.h"

#include <algorithm>
#include <cstring>

#include "lmx/backend/cpu/simd.h"

namespace lmx::cpu::LMX_KERNELS_NS {

namespace {

using simd::splat_f;
using simd::VF;
constexpr int64_t kLanes = simd::kFloatLanes;
constexpr int kTileVectors = 4;
// Rows per tile for NV vectors of columns: about 16 sums in AVX-512's 32
// registers, 8 in the 16 of narrower builds (at least 8 independent sums
// keep both FMA pipes busy; 4 rows of 2 vectors ran at 60% of that).
template <int NV>
constexpr int tile_rows() {
  if constexpr (kLanes == 16) return NV <= 2 ? 8 : 4;
  else return NV <= 2 ? 4 : 2;
}

using simd::load;
using simd::load_part;
using simd::store;

// Writes the vector's lanes that fall below column n (col is its first).
inline void store_cols(float* p, VF v, int64_t col, int64_t n) {
  if (col + kLanes <= n) store(p, v);
  else if (col < n) std::memcpy(p, &v, static_cast<size_t>(n - col) * sizeof(float));
}

template <int R, int NV>
void tile(const float* a, int64_t ars, int64_t acs, int64_t k, const float* b, int64_t ldb, int64_t j0, int64_t n,
          float* c, int64_t ldc) {
  VF acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = splat_f(0.0f);
  for (int64_t q = 0; q < k; ++q) {
    VF bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = load(b + q * ldb + j0 + v * kLanes);
    for (int r = 0; r < R; ++r) {
      const VF ar = splat_f(a[r * ars + q * acs]);
      for (int v = 0; v < NV; ++v) acc[r][v] += ar * bv[v];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) store_cols(c + r * ldc + j0 + v * kLanes, acc[r][v], j0 + v * kLanes, n);
}

// All rows, in tiles of tile_rows<NV>() and then single rows.
template <int NV>
void rows_of_tiles(const float* a, int64_t ars, int64_t acs, int64_t rows, int64_t k, const float* b, int64_t ldb,
                   int64_t j0, int64_t n, float* c, int64_t ldc) {
  constexpr int R = tile_rows<NV>();
  int64_t r = 0;
  for (; r + R <= rows; r += R) tile<R, NV>(a + r * ars, ars, acs, k, b, ldb, j0, n, c + r * ldc, ldc);
  for (; r < rows; ++r) tile<1, NV>(a + r * ars, ars, acs, k, b, ldb, j0, n, c + r * ldc, ldc);
}

// Q rows of c (columns q0.. of a) by NV vectors of columns, summed over all rows.
template <int Q, int NV, bool Partial>
void tile_tn(const float* a, int64_t ars, int64_t acs, const float* g, int64_t ldg, int64_t rows, int64_t q0, int64_t j0,
             int64_t n, float* c, int64_t ldc) {
  VF acc[Q][NV];
  for (int q = 0; q < Q; ++q)
    for (int v = 0; v < NV; ++v) acc[q][v] = splat_f(0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    VF gv[NV];
    for (int v = 0; v < NV; ++v) {
      const int64_t col = j0 + v * kLanes;
      gv[v] = Partial && col + kLanes > n ? load_part(g + r * ldg + col, std::max<int64_t>(n - col, 0))
                                          : load(g + r * ldg + col);
    }
    for (int q = 0; q < Q; ++q) {
      const VF av = splat_f(a[r * ars + (q0 + q) * acs]);
      for (int v = 0; v < NV; ++v) acc[q][v] += av * gv[v];
    }
  }
  for (int q = 0; q < Q; ++q)
    for (int v = 0; v < NV; ++v) {
      float* p = c + (q0 + q) * ldc + j0 + v * kLanes;
      store(p, load(p) + acc[q][v]);
    }
}

// All of c's k rows, in tiles of tile_rows<NV>() and then single rows.
template <int NV, bool Partial>
void columns_of_tiles(const float* a, int64_t ars, int64_t acs, const float* g, int64_t ldg, int64_t rows, int64_t k,
                      int64_t j0, int64_t n, float* c, int64_t ldc) {
  constexpr int Q = tile_rows<NV>();
  int64_t q = 0;
  for (; q + Q <= k; q += Q) tile_tn<Q, NV, Partial>(a, ars, acs, g, ldg, rows, q, j0, n, c, ldc);
  for (; q < k; ++q) tile_tn<1, NV, Partial>(a, ars, acs, g, ldg, rows, q, j0, n, c, ldc);
}

template <bool Partial>
void columns_of_tiles_any(int nv, const float* a, int64_t ars, int64_t acs, const float* g, int64_t ldg, int64_t rows,
                          int64_t k, int64_t j0, int64_t n, float* c, int64_t ldc) {
  switch (nv) {
    case 1: return columns_of_tiles<1, Partial>(a, ars, acs, g, ldg, rows, k, j0, n, c, ldc);
    case 2: return columns_of_tiles<2, Partial>(a, ars, acs, g, ldg, rows, k, j0, n, c, ldc);
    case 3: return columns_of_tiles<3, Partial>(a, ars, acs, g, ldg, rows, k, j0, n, c, ldc);
    default: return columns_of_tiles<4, Partial>(a, ars, acs, g, ldg, rows, k, j0, n, c, ldc);
  }
}

}  // namespace

void narrow_gemm(const float* a, int64_t ars, int64_t acs, int64_t rows, int64_t k, const float* b, int64_t ldb,
                 int64_t n, float* c, int64_t ldc) {
  for (int64_t j0 = 0; j0 < n; j0 += kTileVectors * kLanes) {
    switch (std::min<int64_t>(kTileVectors, (n - j0 + kLanes - 1) / kLanes)) {
      case 1: rows_of_tiles<1>(a, ars, acs, rows, k, b, ldb, j0, n, c, ldc); break;
      case 2: rows_of_tiles<2>(a, ars, acs, rows, k, b, ldb, j0, n, c, ldc); break;
      case 3: rows_of_tiles<3>(a, ars, acs, rows, k, b, ldb, j0, n, c, ldc); break;
      default: rows_of_tiles<4>(a, ars, acs, rows, k, b, ldb, j0, n, c, ldc); break;
    }
  }
}

void narrow_gemm_tn(const float* a, int64_t ars, int64_t acs, const float* g, int64_t ldg, int64_t rows, int64_t k,
                    int64_t n, float* c, int64_t ldc) {
  // g's last vector of columns is read in part when n is not a whole number
  // of vectors (its next row, or the end of the array, follows).
  const bool partial = n % kLanes != 0;
  for (int64_t j0 = 0; j0 < n; j0 += kTileVectors * kLanes) {
    const int nv = static_cast<int>(std::min<int64_t>(kTileVectors, (n - j0 + kLanes - 1) / kLanes));
    if (partial) columns_of_tiles_any<true>(nv, a, ars, acs, g, ldg, rows, k, j0, n, c, ldc);
    else columns_of_tiles_any<false>(nv, a, ars, acs, g, ldg, rows, k, j0, n, c, ldc);
  }
}

}  // namespace lmx::cpu::LMX_KERNELS_NS
