// Library headers whose text is built into the library (by
// cmake/embed_headers.cmake) for the kernels lmx compiles at run time, so
// that an installed lmx needs no source tree.
#pragma once

#include <vector>

namespace lmx {

struct EmbeddedHeader {
  const char* name;  // as included: "lmx/backend/common/elementwise_ops.h"
  const char* text;
};

// What compile's generated CPU kernels include (backend/cpu/jit.cpp).
const std::vector<EmbeddedHeader>& cpu_jit_headers();
// What NVRTC's kernels include (backend/cuda/jit.cpp); only in builds with CUDA.
const std::vector<EmbeddedHeader>& cuda_jit_headers();

}  // namespace lmx
