// Which build of the per-ISA CPU kernels (backend/cpu/kernels) this process
// runs: the best the CPU supports, or the one LMX_CPU_ISA names
// ("baseline", "avx2" or "avx512"; an unsupported choice raises on first use).
#pragma once

namespace lmx::cpu {

enum class Isa { baseline, avx2, avx512 };

Isa active_isa();
const char* isa_name(Isa isa);

}  // namespace lmx::cpu

// Calls kernel `fn` of the active build.
#if defined(LMX_CPU_HAS_AVX512)
#define LMX_CPU_KERNEL(fn, ...)                                                                      \
  (::lmx::cpu::active_isa() == ::lmx::cpu::Isa::avx512 ? ::lmx::cpu::kernels_avx512::fn(__VA_ARGS__) \
   : ::lmx::cpu::active_isa() == ::lmx::cpu::Isa::avx2 ? ::lmx::cpu::kernels_avx2::fn(__VA_ARGS__)   \
                                                        : ::lmx::cpu::kernels_baseline::fn(__VA_ARGS__))
#elif defined(LMX_CPU_HAS_AVX2)
#define LMX_CPU_KERNEL(fn, ...)                                                                  \
  (::lmx::cpu::active_isa() == ::lmx::cpu::Isa::avx2 ? ::lmx::cpu::kernels_avx2::fn(__VA_ARGS__) \
                                                     : ::lmx::cpu::kernels_baseline::fn(__VA_ARGS__))
#else
#define LMX_CPU_KERNEL(fn, ...) ::lmx::cpu::kernels_baseline::fn(__VA_ARGS__)
#endif
