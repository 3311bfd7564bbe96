// Eight-lane vectors (GCC vector extensions) shared by the per-ISA matrix-
// vector kernels: the compiler maps them to the ISA each build targets.
// Included inside a kernels namespace (backend/common/isa_namespace.h), so
// that each build has its own copy of these inline functions (one shared
// definition would be compiled for one ISA only); the includer includes
// <cstdint> and <cstring> first.
#pragma once

typedef float f32x8 __attribute__((vector_size(32)));
typedef uint32_t u32x8 __attribute__((vector_size(32)));

inline f32x8 load8(const float* p) {
  f32x8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

typedef float f32x4 __attribute__((vector_size(16)));

// A register of floats: 16 where the build has AVX-512's registers, else 8.
#if defined(__AVX512F__)
typedef float fvec __attribute__((vector_size(64)));
constexpr int kStep = 16;
inline fvec load_step(const float* p) {
  fvec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
#else
typedef f32x8 fvec;
constexpr int kStep = 8;
inline fvec load_step(const float* p) { return load8(p); }
#endif

// The sum of a vector's lanes (8 or 16), as a tree of halvings: a lane-by-
// lane sum is one dependent chain of scalar adds, which cost decode
// attention more than its multiplications (one sum per key and head).
template <typename V>
inline float hsum(const V& v) {
  constexpr int kLanes = sizeof(V) / sizeof(float);
  static_assert(kLanes == 8 || kLanes == 16);
  if constexpr (kLanes == 16) {
    return hsum(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15));
  } else {
    const f32x4 s = __builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7);
    const f32x4 t = s + __builtin_shufflevector(s, s, 2, 3, 0, 1);
    return t[0] + t[1];
  }
}

// The lane sums of four vectors at once, as one vector: pairs of them are
// interleaved and added, so four sums cost about what one tree does.
inline f32x4 hsum4(f32x8 a0, f32x8 a1, f32x8 a2, f32x8 a3) {
  const f32x8 s01 = __builtin_shufflevector(a0, a1, 0, 8, 2, 10, 4, 12, 6, 14) +
                    __builtin_shufflevector(a0, a1, 1, 9, 3, 11, 5, 13, 7, 15);
  const f32x8 s23 = __builtin_shufflevector(a2, a3, 0, 8, 2, 10, 4, 12, 6, 14) +
                    __builtin_shufflevector(a2, a3, 1, 9, 3, 11, 5, 13, 7, 15);
  // lanes: a0 a1 a2 a3 over lanes 0-3, then over lanes 4-7
  const f32x8 s = __builtin_shufflevector(s01, s23, 0, 1, 8, 9, 4, 5, 12, 13) +
                  __builtin_shufflevector(s01, s23, 2, 3, 10, 11, 6, 7, 14, 15);
  return __builtin_shufflevector(s, s, 0, 1, 2, 3) + __builtin_shufflevector(s, s, 4, 5, 6, 7);
}
