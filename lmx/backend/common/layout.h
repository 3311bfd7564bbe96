// Flags of a strided view, shared by every primitive that makes views.
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

}  // namespace lmx
