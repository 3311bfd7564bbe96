// NumPy indexing for reads and writes: ints, slices, ellipsis, None and
// integer arrays (advanced indices, placed as NumPy places them).
#pragma once

#include "convert.h"
#include "lmx/primitives/index.h"

namespace lmx::py {
array get_item(const array& a, nb::handle index);
array set_item(const array& a, nb::handle index, nb::handle value);
// a with the indexed elements combined with value (x.at[index].add(v) etc.).
array update_item(const array& a, nb::handle index, nb::handle value, ScatterMode mode);
}  // namespace lmx::py
