// The CPU kernels are compiled once per instruction set (baseline x86-64 and
// AVX2, see backend/cpu/isa.h) and picked at run time. Templates and inline
// functions that those builds instantiate live in an inline namespace named
// after the build's instruction set, so each build gets its own symbols: the
// linker cannot fold an AVX2 instantiation into code that must run anywhere.
#pragma once

#ifndef LMX_CPU_ISA
#define LMX_CPU_ISA baseline
#endif

#define LMX_ISA_CAT_(a, b) a##b
#define LMX_ISA_CAT(a, b) LMX_ISA_CAT_(a, b)
// Inline namespace for kernel templates: isa_baseline, isa_avx2.
#define LMX_ISA_NS LMX_ISA_CAT(isa_, LMX_CPU_ISA)
// Namespace of a build's kernel entry points: lmx::cpu::kernels_<isa>.
#define LMX_KERNELS_NS LMX_ISA_CAT(kernels_, LMX_CPU_ISA)
