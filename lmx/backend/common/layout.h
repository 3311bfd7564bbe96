// Strided views: their flags, and the metadata-only results of the view
// primitives, shared by every backend (a backend adds only the copies).
#pragma once

#include "lmx/array.h"

namespace lmx {

// Flags for an array of `shape` laid out with `strides`; `dense` says the
// elements fill their span without gaps or repeats (e.g. any transpose of a
// dense array).
Flags layout_flags(const Shape& shape, const Strides& strides, bool dense);

// Elements spanned by a view whose flags are known; 1 for broadcast scalars.
size_t view_data_size(const array& in, const array& out, const Flags& f);

// Reshape strides that keep the same buffer, or empty if a copy is needed.
Strides reshape_strides(const Shape& from, const Strides& from_strides, const Shape& to);

// out becomes a view of in's buffer with `strides`, starting `offset`
// elements further; `dense` as for layout_flags.
void make_view(const array& in, array& out, Strides strides, int64_t offset = 0, bool dense = false);

// The elements of an array laid out with `strides` that start at index
// `start` and step by `step` along each dim (unit steps when step is empty):
// the offset of the first, in elements, and the strides between them.
struct Window {
  int64_t offset;
  Strides strides;
};
Window window(const Strides& strides, const Shape& start, const Shape& step = {});

// Matmul's b as the backends read it: with a's batch dims, which a shared
// (K, N) matrix takes as broadcast (stride 0) dims; b itself otherwise.
array matmul_rhs(const array& a, const array& b);

// The view primitives' results (see primitives/shape.h).
void broadcast_view(const array& in, array& out);
bool reshape_view(const array& in, array& out);  // false: a copy is needed
void transpose_view(const array& in, array& out, const std::vector<int>& axes);
void slice_view(const array& in, array& out, const Shape& start, const Shape& step);
// `in` must be row-contiguous.
void as_strided_view(const array& in, array& out, const Strides& strides, int64_t offset);

}  // namespace lmx
