// The source of compile's generated GPU kernels, separate from launching so
// that CI (which has the CUDA toolkit but no GPU) can generate and compile
// them. No CUDA headers here.
#pragma once

#include <string>
#include <vector>

#include "lmx/primitives/compiled.h"

namespace lmx::cu {

// How a fused kernel reads an input: element i of a row-major buffer, one
// value for every element, or through strides over a collapsed shape.
enum class FusedAccess { dense, scalar, strided };

// Whether the generator has kernels for these element types (all but
// float64, which is CPU-only, and complex64).
bool fused_types_supported(const Compiled& c, const std::vector<Dtype>& input_types);

// The kernel `lmx_fused` computing c's outputs, for inputs of these types
// read as `access` says; strided inputs index `ndim` collapsed dimensions.
// With vec > 1 (no strided inputs) each thread takes `vec` consecutive
// elements through aligned vector loads and stores.
std::string fused_kernel_source(const Compiled& c, const std::vector<Dtype>& input_types,
                                const std::vector<FusedAccess>& access, int ndim, int vec = 1);

// The kernel `lmx_fused_reduce` computing c's chain and reducing its value
// as c.reduction() says: `group` threads (1, 32 or a whole block of
// kThreads) reduce each piece of a row in float (rows cut into `chunks`
// pieces leave one float partial result per piece for a second pass).
std::string fused_reduce_source(const Compiled& c, const std::vector<Dtype>& input_types,
                                const std::vector<FusedAccess>& access, int ndim, int group);

// Compiles kernel source with NVRTC for `arch` ("sm_90") and returns the
// cubin; throws std::runtime_error with NVRTC's log when compilation fails.
std::string nvrtc_compile(const std::string& source, const std::string& arch);

}  // namespace lmx::cu
