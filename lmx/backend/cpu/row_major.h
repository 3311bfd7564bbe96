// Kernels that want plain row-major memory of one dtype get it here: the
// array's own buffer when it already is one, else a converted copy.
#pragma once

#include <memory>

#include "lmx/array.h"
#include "lmx/backend/cpu/copy.h"

namespace lmx::cpu {

// `a` as a row-major buffer of dtype t: its own memory when it already is
// one, else a copy kept alive in `scratch`.
template <typename T>
const T* row_major(const array& a, Dtype t, array& scratch) {
  if (a.dtype() == t && a.flags().row_contiguous && a.data_size() == a.size()) return a.data<T>();
  scratch = array(a.shape(), t, std::shared_ptr<Data>{});
  allocate(scratch);
  copy_to_strided(a, scratch.raw_ptr(), t, row_major_strides(a.shape()));
  return scratch.data<T>();
}

}  // namespace lmx::cpu
