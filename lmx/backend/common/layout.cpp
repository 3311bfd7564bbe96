#include "lmx/backend/cpu/layout.h"

namespace lmx {

Flags layout_flags(const Shape& shape, const Strides& strides, bool dense) {
  Flags f;
  int64_t expect = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    if (shape[i] == 1) continue;
    f.row_contiguous &= strides[i] == expect;
    expect *= shape[i];
  }
  expect = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    f.col_contiguous &= strides[i] == expect;
    expect *= shape[i];
  }
  f.contiguous = f.row_contiguous || f.col_contiguous || dense;
  return f;
}

size_t view_data_size(const array& in, const array& out, const Flags& f) {
  if (out.size() == 0) return 0;
  if (in.size() == 1) return 1;
  return f.contiguous ? out.size() : in.data_size();
}

Strides reshape_strides(const Shape& from, const Strides& fs, const Shape& to) {
  // Walk both shapes in groups of equal element count; each group of the
  // source must be internally contiguous to be re-split without a copy.
  Shape os;
  Strides ost;
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i] != 1) {
      os.push_back(from[i]);
      ost.push_back(fs[i]);
    }
  Strides out(to.size(), 0);
  size_t oi = 0, ti = 0;
  while (ti < to.size() && to[ti] == 1) out[ti++] = 1;
  while (oi < os.size()) {
    int64_t group_from = os[oi];
    size_t oj = oi;
    size_t tj = ti;
    int64_t group_to = tj < to.size() ? to[tj] : 1;
    while (group_from != group_to) {
      if (group_from < group_to) {
        ++oj;
        if (oj >= os.size()) return {};
        group_from *= os[oj];
      } else {
        ++tj;
        if (tj >= to.size()) return {};
        group_to *= to[tj];
      }
    }
    for (size_t k = oi; k < oj; ++k)
      if (ost[k] != ost[k + 1] * os[k + 1]) return {};
    int64_t stride = ost[oj];
    for (size_t k = tj + 1; k-- > ti;) {
      out[k] = stride;
      stride *= to[k];
    }
    oi = oj + 1;
    ti = tj + 1;
    while (ti < to.size() && to[ti] == 1) out[ti++] = 1;
  }
  if (ti != to.size()) return {};
  return out;
}

}  // namespace lmx
