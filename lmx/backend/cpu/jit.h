// C++ compiled at run time by the system's compiler (compile's fused CPU
// kernels, backend/cpu/fused_kernel.h), loaded as a shared library and
// cached in memory and on disk (LMX_KERNEL_CACHE, else the user's cache
// directory, as the CUDA backend's NVRTC kernels).
//
// LMX_CPU_JIT picks when: `1` (the default) compiles a chain in a
// background thread the first time it runs over kJitMinElements or more,
// while the tile interpreter runs it until the kernel is ready; `0` never;
// `always` compiles every chain before running it, and a failure to compile
// is raised (for tests). LMX_CXX, else CXX, else `c++` names the compiler.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace lmx::cpu {

enum class JitMode { off, background, always };

// Read on every call, so that a process may change it (tests do).
JitMode jit_mode();

// Chains with fewer elements keep the interpreter in background mode: its
// per-tile cost is small against the ~1 s a compile takes.
inline constexpr size_t kJitMinElements = size_t{1} << 15;

// The function `name` (extern "C") of the source that `key` names, compiled
// as a shared library, or null when it is not ready. source() writes the
// source, called only the first time a key is asked for (with the same
// compiler): a key is cheaper to build on every evaluation than a source.
// With wait the function is compiled now if need be, and a compiler failure
// throws std::runtime_error with the compiler's output; else a first
// request queues it for the background thread, and a source that failed to
// compile stays null (reported once, on stderr).
void* jit_function(const std::string& key, const std::function<std::string()>& source, const char* name,
                   bool wait);

}  // namespace lmx::cpu
