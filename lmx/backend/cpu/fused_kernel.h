// compile's fused chains as generated C++ (the CPU counterpart of the CUDA
// backend's generated kernels): the source of one kernel per program and
// way of reading its inputs, compiled at run time (backend/cpu/jit.h). Each
// value goes through the whole chain in registers.
#pragma once

#include <string>
#include <vector>

#include "lmx/primitives/compiled.h"

namespace lmx::cpu {

// The generated kernel's entry point: `n` elements of the chain. in[k]
// points at the first element of input k's values, or at its one value
// when the input is a single value broadcast; out[k] at the first element
// of output k (which may be an input's buffer: each element's inputs are
// read before its outputs are written).
using FusedKernelFn = void (*)(const void* const* in, void* const* out, size_t n);
inline constexpr const char* kFusedKernelName = "lmx_fused";

// Whether the generator takes these types: all but complex64, whose
// arithmetic the compiler vectorises and contracts differently from the
// ahead-of-time kernels (results differed in the last bit); complex chains
// keep the interpreter.
bool fused_kernel_supported(const Compiled& c, const std::vector<Dtype>& input_types);

// The source of c's kernel for inputs of these types; `single_value[k]`
// marks input k as one value broadcast. `power_exponent[s]` is, for a
// power step s whose exponent is such a value, that exponent when it is one
// of small_power's (simd_ops.h), computed by multiplication as the span
// kernels do; else kNoSmallPower.
std::string fused_kernel_source(const Compiled& c, const std::vector<Dtype>& input_types,
                                const std::vector<bool>& single_value, const std::vector<int>& power_exponent);

// Everything fused_kernel_source's result depends on, as compact bytes: a
// key for the compiled kernel that is cheap to build on every evaluation
// (writing the source took ~5 us a call for a ten-step chain).
std::string fused_kernel_key(const Compiled& c, const std::vector<Dtype>& input_types,
                             const std::vector<bool>& single_value, const std::vector<int>& power_exponent);

}  // namespace lmx::cpu
