// Copies with dtype conversion between any two layouts.
#pragma once

#include "lmx/array.h"

namespace lmx::cpu {

// n contiguous elements, converting src_type -> dst_type.
void convert_contiguous(const void* src, Dtype src_type, void* dst, Dtype dst_type, size_t n);

// Copies `src` (any layout) into memory at `dst` laid out with `dst_strides`
// (element strides of dst_type), converting dtype.
void copy_to_strided(const array& src, void* dst, Dtype dst_type, const Strides& dst_strides);

// Fills `out` (already shaped) with a row-contiguous copy of `src` cast to
// out's dtype, reusing src's buffer when it may be donated.
void copy_to_new(const array& src, array& out);

// Allocates a row-contiguous buffer for out.
void allocate(array& out);

}  // namespace lmx::cpu
