// NumPy basic indexing (ints, slices, ellipsis, None) for reads and writes.
#pragma once

#include "convert.h"

namespace lmx::py {
array get_item(const array& a, nb::handle index);
array set_item(const array& a, nb::handle index, nb::handle value);
}  // namespace lmx::py
