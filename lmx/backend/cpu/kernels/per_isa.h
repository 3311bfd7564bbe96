// Declares a kernel header's entry points once per ISA build of the kernels
// (lmx::cpu::kernels_baseline, and _avx2 and _avx512 where this build makes
// them); LMX_CPU_KERNEL (backend/cpu/isa.h) calls the one this CPU runs best.
#pragma once

#ifdef LMX_CPU_HAS_AVX2
#define LMX_CPU_IF_AVX2(...) __VA_ARGS__
#else
#define LMX_CPU_IF_AVX2(...)
#endif
#ifdef LMX_CPU_HAS_AVX512
#define LMX_CPU_IF_AVX512(...) __VA_ARGS__
#else
#define LMX_CPU_IF_AVX512(...)
#endif

#define LMX_CPU_DECLARE_PER_ISA(ENTRY_POINTS)                                   \
  namespace lmx::cpu::kernels_baseline {                                        \
  ENTRY_POINTS                                                                  \
  }                                                                             \
  LMX_CPU_IF_AVX2(namespace lmx::cpu::kernels_avx2 { ENTRY_POINTS })           \
  LMX_CPU_IF_AVX512(namespace lmx::cpu::kernels_avx512 { ENTRY_POINTS })
