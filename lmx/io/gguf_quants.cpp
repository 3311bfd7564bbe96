// Block layouts follow the GGUF specification (ggml's quantisation formats):
// each block starts or ends with float16 super-scales, then packed integers.
#include "lmx/io/gguf_quants.h"

#include <cstring>

namespace lmx::io::ggml {

namespace {

constexpr int kSuper = 256;  // elements per K-quant super-block

float f16_at(const uint8_t* p) {
  uint16_t b;
  std::memcpy(&b, p, 2);
  return float16_t::to_float(b);
}

// Q4_K and Q5_K pack eight 6-bit scales and eight 6-bit mins in 12 bytes:
// the first four of each whole in bytes 0-3 / 4-7, the last four split
// between the low/high nibbles of bytes 8-11 and the top bits of bytes 0-7.
void scale_min_k4(int j, const uint8_t* q, int& scale, int& min) {
  if (j < 4) {
    scale = q[j] & 63;
    min = q[j + 4] & 63;
  } else {
    scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void dequantize_q5(const uint8_t* b, bool has_min, float* y) {
  float d = f16_at(b), m = has_min ? f16_at(b + 2) : 0.0f;
  const uint8_t* p = b + (has_min ? 4 : 2);
  uint32_t qh;
  std::memcpy(&qh, p, 4);
  const uint8_t* qs = p + 4;
  float offset = has_min ? 0.0f : -16.0f;
  for (int j = 0; j < 16; ++j) {
    int lo = (qs[j] & 0xF) | (((qh >> j) & 1) << 4);
    int hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
    y[j] = d * (lo + offset) + m;
    y[j + 16] = d * (hi + offset) + m;
  }
}

// Q2_K: scales[16] (4-bit scale | 4-bit min), qs[64] (2-bit), d, dmin.
void dequantize_q2_k(const uint8_t* b, float* y) {
  const uint8_t *scales = b, *qs = b + 16;
  float d = f16_at(b + 80), dmin = f16_at(b + 82);
  for (int i = 0; i < kSuper; ++i) {
    int half = i / 128, j = (i % 128) / 32, sub = (i % 32) / 16, l = i % 16;
    int s = scales[8 * half + 2 * j + sub];
    int q = (qs[32 * half + 16 * sub + l] >> (2 * j)) & 3;
    y[i] = d * (s & 0xF) * q - dmin * (s >> 4);
  }
}

// Q3_K: hmask[32] (third bit), qs[64] (low two bits), 12 bytes of sixteen
// 6-bit signed scales, d.
void dequantize_q3_k(const uint8_t* b, float* y) {
  const uint8_t *hmask = b, *qs = b + 32, *sc = b + 96;
  float d = f16_at(b + 108);
  for (int i = 0; i < kSuper; ++i) {
    int half = i / 128, j = (i % 128) / 32, sub = (i % 32) / 16, l = i % 16;
    int k = 8 * half + 2 * j + sub;
    int low = k < 8 ? sc[k] & 0xF : sc[k - 8] >> 4;
    int high = (sc[8 + k % 4] >> (2 * (k / 4))) & 3;
    int scale = (low | (high << 4)) - 32;
    int q = (qs[32 * half + 16 * sub + l] >> (2 * j)) & 3;
    bool high_bit = hmask[16 * sub + l] & (1 << (4 * half + j));
    y[i] = d * scale * (q - (high_bit ? 0 : 4));
  }
}

// Q4_K: d, dmin, 12 scale/min bytes, qs[128] (4-bit); Q5_K adds qh[32] (fifth bit).
void dequantize_q45_k(const uint8_t* b, bool five_bits, float* y) {
  float d = f16_at(b), dmin = f16_at(b + 2);
  const uint8_t* sc = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + (five_bits ? 48 : 16);
  for (int i = 0; i < kSuper; ++i) {
    int chunk = i / 64, upper = (i % 64) / 32, l = i % 32;
    int scale, min;
    scale_min_k4(2 * chunk + upper, sc, scale, min);
    uint8_t byte = qs[32 * chunk + l];
    int q = upper ? byte >> 4 : byte & 0xF;
    if (five_bits) q |= ((qh[l] >> (2 * chunk + upper)) & 1) << 4;
    y[i] = d * scale * q - dmin * min;
  }
}

// Q6_K: ql[128] (low four bits), qh[64] (high two bits), int8 scales[16], d.
void dequantize_q6_k(const uint8_t* b, float* y) {
  const uint8_t *ql = b, *qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  float d = f16_at(b + 208);
  for (int i = 0; i < kSuper; ++i) {
    int half = i / 128, quarter = (i % 128) / 32, l = i % 32;
    uint8_t low_byte = ql[64 * half + 32 * (quarter & 1) + l];
    int low = quarter < 2 ? low_byte & 0xF : low_byte >> 4;
    int high = (qh[32 * half + l] >> (2 * quarter)) & 3;
    int scale = sc[8 * half + 2 * quarter + l / 16];
    y[i] = d * scale * ((low | (high << 4)) - 32);
  }
}

}  // namespace

std::optional<TypeInfo> type_info(uint32_t id) {
  static constexpr TypeInfo kTypes[] = {
      {Type::F32, "F32", 1, 4, Storage::plain, 0},         {Type::F16, "F16", 1, 2, Storage::plain, 0},
      {Type::BF16, "BF16", 1, 2, Storage::plain, 0},       {Type::F64, "F64", 1, 8, Storage::plain, 0},
      {Type::I8, "I8", 1, 1, Storage::plain, 0},           {Type::I16, "I16", 1, 2, Storage::plain, 0},
      {Type::I32, "I32", 1, 4, Storage::plain, 0},         {Type::I64, "I64", 1, 8, Storage::plain, 0},
      {Type::Q4_0, "Q4_0", 32, 18, Storage::affine, 4},    {Type::Q4_1, "Q4_1", 32, 20, Storage::affine, 4},
      {Type::Q8_0, "Q8_0", 32, 34, Storage::affine, 8},    {Type::Q5_0, "Q5_0", 32, 22, Storage::dequantize, 0},
      {Type::Q5_1, "Q5_1", 32, 24, Storage::dequantize, 0}, {Type::Q2_K, "Q2_K", 256, 84, Storage::dequantize, 0},
      {Type::Q3_K, "Q3_K", 256, 110, Storage::dequantize, 0}, {Type::Q4_K, "Q4_K", 256, 144, Storage::dequantize, 0},
      {Type::Q5_K, "Q5_K", 256, 176, Storage::dequantize, 0}, {Type::Q6_K, "Q6_K", 256, 210, Storage::dequantize, 0},
  };
  for (const auto& t : kTypes)
    if (static_cast<uint32_t>(t.type) == id) return t;
  return std::nullopt;
}

void to_affine(Type type, const uint8_t* blocks, size_t n_blocks, uint8_t* weights, float16_t* scales,
               float16_t* biases) {
  for (size_t k = 0; k < n_blocks; ++k) {
    if (type == Type::Q8_0) {
      // d * q for signed q  ==  d * (q + 128) - 128 d
      const uint8_t* b = blocks + k * 34;
      float d = f16_at(b);
      scales[k] = float16_t(d);
      biases[k] = float16_t(-128.0f * d);
      for (int i = 0; i < 32; ++i) weights[32 * k + i] = static_cast<uint8_t>(static_cast<int8_t>(b[2 + i]) + 128);
      continue;
    }
    // Q4_0: d * (q - 8); Q4_1: d * q + m. GGML keeps element j in the low
    // nibble of byte j and element j + 16 in its high nibble; MLX packs
    // consecutive elements low nibble first.
    bool has_min = type == Type::Q4_1;
    const uint8_t* b = blocks + k * (has_min ? 20 : 18);
    float d = f16_at(b);
    scales[k] = float16_t(d);
    biases[k] = has_min ? float16_t::from_bits(static_cast<uint16_t>(b[2] | (b[3] << 8))) : float16_t(-8.0f * d);
    const uint8_t* qs = b + (has_min ? 4 : 2);
    auto element = [&](int i) { return i < 16 ? qs[i] & 0xF : qs[i - 16] >> 4; };
    for (int i = 0; i < 16; ++i)
      weights[16 * k + i] = static_cast<uint8_t>(element(2 * i) | (element(2 * i + 1) << 4));
  }
}

void dequantize(Type type, const uint8_t* blocks, size_t n_blocks, float16_t* out) {
  auto info = *type_info(static_cast<uint32_t>(type));
  float y[kSuper];
  for (size_t k = 0; k < n_blocks; ++k) {
    const uint8_t* b = blocks + k * info.block_bytes;
    switch (type) {
      case Type::Q5_0: dequantize_q5(b, false, y); break;
      case Type::Q5_1: dequantize_q5(b, true, y); break;
      case Type::Q2_K: dequantize_q2_k(b, y); break;
      case Type::Q3_K: dequantize_q3_k(b, y); break;
      case Type::Q4_K: dequantize_q45_k(b, false, y); break;
      case Type::Q5_K: dequantize_q45_k(b, true, y); break;
      case Type::Q6_K: dequantize_q6_k(b, y); break;
      default: return;
    }
    for (int i = 0; i < info.block_elems; ++i) out[k * info.block_elems + i] = float16_t(y[i]);
  }
}

}  // namespace lmx::io::ggml
