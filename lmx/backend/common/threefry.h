// The Threefry-2x32 block cipher behind random_bits (20 rounds, as MLX and
// JAX): (x0, x1) encrypted under key (k0, k1). One definition for the CPU and
// CUDA kernels, so both give the same bits for the same key.
#pragma once

#include <cstdint>

#include "lmx/half_types.h"  // LMX_HD

namespace lmx {

struct Words2 {
  uint32_t x0, x1;
};

LMX_HD inline Words2 threefry2x32(uint32_t k0, uint32_t k1, uint32_t x0, uint32_t x1) {
  constexpr int kRotations[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
  const uint32_t ks[3] = {k0, k1, k0 ^ k1 ^ 0x1BD11BDAu};
  x0 += ks[0];
  x1 += ks[1];
  for (uint32_t i = 0; i < 5; ++i) {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      int r = kRotations[i % 2][j];
      x0 += x1;
      x1 = ((x1 << r) | (x1 >> (32 - r))) ^ x0;
    }
    x0 += ks[(i + 1) % 3];
    x1 += ks[(i + 2) % 3] + i + 1;
  }
  return {x0, x1};
}

// Word i of n random words from one key: n words come from ceil(n/2) blocks
// whose counters are (i, i + h), block i giving words i and i + h (MLX's
// layout); with n odd the last counter is 0 and its second word is dropped.
LMX_HD inline Words2 threefry_block(uint32_t k0, uint32_t k1, uint64_t i, uint64_t n) {
  uint64_t h = (n + 1) / 2;
  uint32_t c1 = (n % 2 && i + h == 2 * h - 1) ? 0u : static_cast<uint32_t>(i + h);
  return threefry2x32(k0, k1, static_cast<uint32_t>(i), c1);
}

}  // namespace lmx
