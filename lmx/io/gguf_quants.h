// GGML's tensor types as they appear in .gguf files: block sizes, the
// conversion of Q4_0/Q4_1/Q8_0 blocks to MLX's affine quantisation (packed
// uint32 weights + float16 scales and biases, group size 32), and the
// dequantisation of the other block formats (Q5_0/Q5_1 and the K-quants
// Q2_K..Q6_K) that MLX's format cannot hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "lmx/half_types.h"

namespace lmx::io::ggml {

enum class Type : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30,
};  // clang-format keeps the ids readable against the GGML spec

enum class Storage {
  plain,      // elements stored as one dtype
  affine,     // converts to MLX's affine quantisation
  dequantize  // converts to float16
};

struct TypeInfo {
  Type type;
  const char* name;
  int block_elems;   // elements per block (1 for plain types)
  int block_bytes;   // bytes per block
  Storage storage;
  int bits;          // affine types: bits per weight in MLX's packing
};

// Every type lmx reads; nullopt for ids it does not know (or cannot read).
std::optional<TypeInfo> type_info(uint32_t id);

constexpr int kAffineGroup = 32;  // Q4_0, Q4_1 and Q8_0 blocks are one group each

// Converts n_blocks affine blocks into MLX's layout: `weights` receives
// 32 * bits / 8 bytes per block (little-endian uint32 words), `scales` and
// `biases` one value per block.
void to_affine(Type type, const uint8_t* blocks, size_t n_blocks, uint8_t* weights, float16_t* scales,
               float16_t* biases);

// Dequantises n_blocks of a `dequantize` type to block_elems floats each.
void dequantize(Type type, const uint8_t* blocks, size_t n_blocks, float16_t* out);

}  // namespace lmx::io::ggml
