#include "lmx/backend/cpu/isa.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace lmx::cpu {

namespace {

bool cpu_has_avx2() {
#if defined(LMX_CPU_HAS_AVX2) && (defined(__x86_64__) || defined(__i386__))
  // The avx2 build targets x86-64-v3 (AVX2, FMA, F16C, BMI1/2, MOVBE) with
  // AES and CLMUL, which Highway's sort asks for (CMakeLists.txt).
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") &&
         __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
#else
  return false;
#endif
}

bool cpu_has_avx512() {
#if defined(LMX_CPU_HAS_AVX512) && (defined(__x86_64__) || defined(__i386__))
  // The avx512 build targets x86-64-v4: AVX-512 F, BW, CD, DQ and VL.
  __builtin_cpu_init();
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

Isa choose() {
  bool avx2 = cpu_has_avx2(), avx512 = cpu_has_avx512();
  if (const char* env = std::getenv("LMX_CPU_ISA"); env && *env) {
    if (std::strcmp(env, "baseline") == 0) return Isa::baseline;
    if (std::strcmp(env, "avx2") == 0) {
      if (!avx2) throw std::runtime_error("[LMX_CPU_ISA] avx2 kernels are not built or this CPU lacks AVX2/FMA.");
      return Isa::avx2;
    }
    if (std::strcmp(env, "avx512") == 0) {
      if (!avx512) throw std::runtime_error("[LMX_CPU_ISA] avx512 kernels are not built or this CPU lacks AVX-512.");
      return Isa::avx512;
    }
    throw std::invalid_argument(std::string("[LMX_CPU_ISA] Unknown instruction set '") + env +
                                "': expected 'baseline', 'avx2' or 'avx512'.");
  }
  return avx512 ? Isa::avx512 : avx2 ? Isa::avx2 : Isa::baseline;
}

}  // namespace

Isa active_isa() {
  static const Isa isa = choose();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "baseline";
  }
}

}  // namespace lmx::cpu
