// Layout helpers shared by the kernels: collapsing dimensions that can be
// walked as one, and visiting a strided N-d range one contiguous row at a time.
#pragma once

#include <cstdint>
#include <vector>

#include "lmx/array.h"
#include "lmx/backend/common/isa_namespace.h"

namespace lmx {

// Merges adjacent dimensions that are contiguous with each other in every one
// of the given stride sets; drops size-1 dimensions. The result has at least
// one dimension.
void collapse_dims(Shape& shape, std::vector<Strides>& strides);

// The element stride between consecutive matrices of x (its last two dims
// are one matrix, the rest a batch), if the batch dims collapse to one stride
// (0 for a batch of one or a broadcast); false when they do not.
bool uniform_batch_stride(const array& x, int64_t& stride);

// Whether b (..., k, n) is w.T of one row-contiguous (n, k) matrix w shared by
// every batch entry (matmul broadcasts a 2-D weight over x's batch dims with
// stride 0): the layout of nn.Linear's weight, which the matrix-vector
// kernels of decode stream row by row.
bool is_shared_transposed_weight(const array& b);

inline namespace LMX_ISA_NS {

// Calls row(offsets, n) for each innermost row of `shape`: `offsets[k]` is the
// element offset of the row's start in stride set k, and the row has n
// elements spaced by strides[k].back(). Shapes must be collapsed beforehand
// for speed, but any shape works.
// The walk restricted to rows [row_begin, row_end), for parallel kernels.
template <int K, typename Row>
void for_each_row_range(const Shape& shape, const std::vector<Strides>& strides, size_t row_begin,
                        size_t row_end, Row&& row) {
  int nd = static_cast<int>(shape.size());
  if (nd == 0) {
    int64_t zero[K] = {};
    if (row_begin == 0 && row_end > 0) row(zero, int64_t{1});
    return;
  }
  int64_t inner = shape[nd - 1];
  std::vector<int32_t> idx(nd > 1 ? nd - 1 : 1, 0);
  int64_t off[K] = {};
  size_t rem = row_begin;
  for (int d = nd - 2; d >= 0; --d) {
    idx[d] = static_cast<int32_t>(rem % shape[d]);
    rem /= shape[d];
    for (int k = 0; k < K; ++k) off[k] += idx[d] * strides[k][d];
  }
  for (size_t r = row_begin; r < row_end; ++r) {
    row(off, inner);
    for (int d = nd - 2; d >= 0; --d) {
      if (++idx[d] < shape[d]) {
        for (int k = 0; k < K; ++k) off[k] += strides[k][d];
        break;
      }
      idx[d] = 0;
      for (int k = 0; k < K; ++k) off[k] -= strides[k][d] * (shape[d] - 1);
    }
  }
}

inline size_t outer_rows(const Shape& shape) {
  size_t rows = 1;
  for (size_t d = 0; d + 1 < shape.size(); ++d) rows *= static_cast<size_t>(shape[d]);
  return rows;
}

// The whole walk.
template <int K, typename Row>
void for_each_row(const Shape& shape, const std::vector<Strides>& strides, Row&& row) {
  if (shape_size(shape) == 0) return;
  for_each_row_range<K>(shape, strides, 0, shape.empty() ? 1 : outer_rows(shape), row);
}

}  // namespace LMX_ISA_NS
}  // namespace lmx
