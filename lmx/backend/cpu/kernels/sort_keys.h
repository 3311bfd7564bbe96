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

/* sort_keys: ascending, in place; floats without NaN (their order puts -0.0
 * and 0.0 in either order).
 * split_keys: copies src[0, n) in order to `low` (keys below pivot) and to
 * `high` (the others), writing nothing past either part; returns the number
 * below. A parallel sort's scatter into its buckets. */
#define LMX_CPU_SORT_KEYS_FOR(K)         \
  void sort_keys(K* keys, size_t n); \
  size_t split_keys(const K* src, size_t n, K pivot, K* low, K* high);
#define LMX_CPU_SORT_KEYS_ENTRY_POINTS \
  LMX_CPU_SORT_KEYS_FOR(uint16_t)      \
  LMX_CPU_SORT_KEYS_FOR(uint32_t)      \
  LMX_CPU_SORT_KEYS_FOR(uint64_t)      \
  LMX_CPU_SORT_KEYS_FOR(float)         \
  LMX_CPU_SORT_KEYS_FOR(double)

LMX_CPU_DECLARE_PER_ISA(LMX_CPU_SORT_KEYS_ENTRY_POINTS)
