// Per-ISA sorts of unsigned keys (sort and argsort turn every dtype's values
// into order-preserving keys). Highway's vectorised quicksort is compiled
// into each ISA build from its headers: the prebuilt library's entry point
// asks the kernel for 16 random bytes on every call (a getrandom system call,
// which cost more than sorting a row of a few hundred keys), while the
// header's sort seeds its pivot sampling from the data.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lmx/backend/cpu/kernels/per_isa.h"

/* ascending, in place; floats without NaN (their order puts -0.0 and 0.0 in either order) */
#define LMX_CPU_SORT_KEYS_ENTRY_POINTS     \
  void sort_keys(uint16_t* keys, size_t n); \
  void sort_keys(uint32_t* keys, size_t n); \
  void sort_keys(uint64_t* keys, size_t n); \
  void sort_keys(float* keys, size_t n);    \
  void sort_keys(double* keys, size_t n);

LMX_CPU_DECLARE_PER_ISA(LMX_CPU_SORT_KEYS_ENTRY_POINTS)
