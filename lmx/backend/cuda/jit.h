// Kernels compiled at run time with NVRTC (compile's fused elementwise
// chains). The source includes the same op functors as the ahead-of-time
// kernels (backend/common/elementwise_ops.h), embedded in the library at
// build time (backend/common/embedded_headers.h); compiled kernels are cached in memory and on disk.
#pragma once

#include <cuda_runtime.h>

#include <string>
#include <vector>

namespace lmx::cu {

// The kernel `name` (declared extern "C") of `source`, compiled for this
// device. Throws std::runtime_error with NVRTC's log when compilation fails.
cudaKernel_t jit_kernel(const std::string& name, const std::string& source);

// Whether run-time compilation can work here (libcu++ headers were found);
// when not, callers use their precompiled fallback.
bool jit_available();

}  // namespace lmx::cu
