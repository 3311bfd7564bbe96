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

// The sum of a vector's lanes.
template <typename V>
inline float hsum(const V& v) {
  float s = 0;
  for (int i = 0; i < static_cast<int>(sizeof(V) / sizeof(float)); ++i) s += v[i];
  return s;
}
