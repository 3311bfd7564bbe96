// Combining hashes into one fingerprint (batch keys, CUDA graph keys).
#pragma once

#include <cstdint>

namespace lmx {

inline uint64_t hash_combine(uint64_t h, uint64_t v) { return h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2)); }

}  // namespace lmx
