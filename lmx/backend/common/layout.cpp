#include "lmx/backend/common/layout.h"

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

void make_view(const array& in, array& out, Strides strides, int64_t offset, bool dense) {
  Flags f = layout_flags(out.shape(), strides, dense);
  size_t ds = view_data_size(in, out, f);
  out.copy_shared_buffer(in, std::move(strides), f, ds, offset);
}

void broadcast_view(const array& in, array& out) {
  int diff = out.ndim() - in.ndim();
  Strides strides(out.ndim(), 0);
  for (int i = 0; i < in.ndim(); ++i)
    strides[i + diff] = in.shape(i) == 1 && out.shape()[i + diff] != 1 ? 0 : in.strides()[i];
  Flags f = layout_flags(out.shape(), strides, false);
  size_t ds = in.size() == 1 ? 1 : (f.contiguous ? out.size() : in.data_size());
  out.copy_shared_buffer(in, std::move(strides), f, ds);
}

array matmul_rhs(const array& a, const array& b) {
  if (b.ndim() == a.ndim()) return b;
  Shape shape(a.shape().begin(), a.shape().end() - 2);
  shape.push_back(b.shape(-2));
  shape.push_back(b.shape(-1));
  array view(std::move(shape), b.dtype(), std::shared_ptr<Data>{});
  broadcast_view(b, view);
  return view;
}

bool reshape_view(const array& in, array& out) {
  if (in.flags().row_contiguous) {
    make_view(in, out, row_major_strides(out.shape()));
    return true;
  }
  Strides s = reshape_strides(in.shape(), in.strides(), out.shape());
  if (s.empty() && out.ndim() != 0) return false;
  make_view(in, out, std::move(s));
  return true;
}

void transpose_view(const array& in, array& out, const std::vector<int>& axes) {
  Strides s(axes.size());
  for (size_t i = 0; i < axes.size(); ++i) s[i] = in.strides()[axes[i]];
  make_view(in, out, std::move(s), 0, in.flags().contiguous && in.data_size() == in.size());
}

Window window(const Strides& strides, const Shape& start, const Shape& step) {
  Window w{0, strides};
  for (size_t i = 0; i < strides.size(); ++i) {
    w.offset += static_cast<int64_t>(start[i]) * strides[i];
    if (!step.empty()) w.strides[i] *= step[i];
  }
  return w;
}

void slice_view(const array& in, array& out, const Shape& start, const Shape& step) {
  Window w = window(in.strides(), start, step);
  make_view(in, out, std::move(w.strides), out.size() == 0 ? 0 : w.offset);
}

void as_strided_view(const array& in, array& out, const Strides& strides, int64_t offset) {
  Flags f = layout_flags(out.shape(), strides, false);
  out.copy_shared_buffer(in, strides, f, f.contiguous ? out.size() : in.size(), offset);
}

}  // namespace lmx
