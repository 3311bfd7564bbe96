// The lines of an array along one axis, for kernels that work a whole line
// at a time (argmax, sort, scans, FFT): the other axes are collapsed and the
// lines split over the thread pool.
#pragma once

#include <algorithm>

#include "lmx/backend/common/isa_namespace.h"
#include "lmx/backend/common/strided.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx::cpu {
inline namespace LMX_ISA_NS {

// fn(in_line, in_stride, out_line, out_stride, length) for every line of
// `in` along `axis` and the matching line of `out` (same shape but the axis,
// whose length may differ). `cost` is the work per element.
template <typename In, typename Out, typename F>
void for_each_line(const array& in, array& out, int axis, size_t cost, F&& fn) {
  int64_t len = in.shape(axis), in_stride = in.strides()[axis], out_stride = out.strides()[axis];
  Shape kept;
  std::vector<Strides> strides(2);
  for (int d = 0; d < in.ndim(); ++d)
    if (d != axis) {
      kept.push_back(in.shape(d));
      strides[0].push_back(in.strides()[d]);
      strides[1].push_back(out.strides()[d]);
    }
  collapse_dims(kept, strides);
  const In* src = in.data<In>();
  Out* dst = out.data<Out>();
  // Lines, not rows of lines, are the unit of work: a 2-D array sorted
  // along its last axis collapses to one row of lines, which must still split.
  const size_t per_row = static_cast<size_t>(kept.back());
  parallel_for(outer_rows(kept) * per_row, std::max<int64_t>(len, 1) * cost, [&](size_t b, size_t e) {
    size_t row = b / per_row;
    for_each_row_range<2>(kept, strides, row, (e + per_row - 1) / per_row, [&](const int64_t* off, int64_t) {
      size_t first = row * per_row;
      size_t k0 = std::max(b, first) - first, k1 = std::min(e, first + per_row) - first;
      for (size_t k = k0; k < k1; ++k)
        fn(src + off[0] + static_cast<int64_t>(k) * strides[0].back(), in_stride,
           dst + off[1] + static_cast<int64_t>(k) * strides[1].back(), out_stride, len);
      ++row;
    });
  });
}

}  // namespace LMX_ISA_NS
}  // namespace lmx::cpu
