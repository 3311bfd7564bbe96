// The floating-point block modes (mxfp4, mxfp8, nvfp4) on the CPU: quantise,
// dequantise, and the quantise-dequantise round trip qqmm multiplies. One
// group of values at a time; the arithmetic is quantize_math.h's.

#include <algorithm>
#include <vector>

#include "lmx/backend/cpu/copy.h"
#include "lmx/backend/cpu/row_major.h"
#include "lmx/backend/common/quantize_math.h"
#include "lmx/primitives/quantized.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx {

namespace {

// Groups handed to a worker at a time, and the values they decode into.
constexpr size_t kGroupsPerChunk = 256;

// The node's group format, reading nvfp4's global scale from its last input.
quant::FpGroupFormat group_format(const FpQuantBase& p, const std::vector<array>& inputs) {
  float global = 0.0f;
  if (p.global_scale()) {
    array scratch;
    global = *cpu::row_major<float>(inputs.back(), float32, scratch);
  }
  return {p.bits(), p.mode() != FpMode::nvfp4, p.global_scale(), global};
}

// Runs fn(first group, end group, float buffer) over chunks of groups on the
// pool, with a buffer of a chunk's values per call.
template <typename Fn>
void for_group_chunks(size_t groups, int group, Fn&& fn) {
  const size_t chunks = (groups + kGroupsPerChunk - 1) / kGroupsPerChunk;
  parallel_for(chunks, kGroupsPerChunk * group * 4, [&](size_t c0, size_t c1) {
    std::vector<float> buffer(kGroupsPerChunk * group);
    for (size_t c = c0; c < c1; ++c) {
      const size_t g0 = c * kGroupsPerChunk;
      fn(g0, std::min(groups, g0 + kGroupsPerChunk), buffer.data());
    }
  });
}

}  // namespace

void FpQuantize::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const quant::FpGroupFormat f = group_format(*this, inputs);
  array ws;
  const float* w = cpu::row_major<float>(inputs[0], float32, ws);
  array &wq = outputs[0], &scales = outputs[1];
  cpu::allocate(wq);
  cpu::allocate(scales);
  auto* packed = wq.data<uint8_t>();
  auto* scale_codes = scales.data<uint8_t>();
  const int group = group_size();
  const size_t group_bytes = static_cast<size_t>(group) * bits() / 8;
  parallel_for(scales.size(), group * 8, [&](size_t g0, size_t g1) {
    uint8_t codes[32];
    for (size_t g = g0; g < g1; ++g) {
      scale_codes[g] = quant::fp_quantize_group(w + g * group, group, f, codes);
      quant::pack_fp_codes(codes, group, bits(), packed + g * group_bytes);
    }
  });
}

void FpDequantize::eval_cpu(const std::vector<array>& inputs, array& out) {
  const quant::FpGroupFormat f = group_format(*this, inputs);
  array ws, ss;
  const auto* packed = cpu::row_major<uint8_t>(inputs[0], uint32, ws);
  const auto* scale_codes = cpu::row_major<uint8_t>(inputs[1], uint8, ss);
  cpu::allocate(out);
  const int group = group_size();
  const size_t group_bytes = static_cast<size_t>(group) * bits() / 8;
  auto* dst = static_cast<char*>(out.raw_ptr());
  for_group_chunks(inputs[1].size(), group, [&](size_t g0, size_t g1, float* values) {
    float* v = values;
    for (size_t g = g0; g < g1; ++g) {
      const float factor = f.scale_factor(scale_codes[g]);
      const uint8_t* bytes = packed + g * group_bytes;
      for (int i = 0; i < group; ++i) *v++ = f.element(quant::unpack_fp_code(bytes, i, bits())) * factor;
    }
    cpu::convert_contiguous(values, float32, dst + g0 * group * out.itemsize(), out.dtype(), (g1 - g0) * group);
  });
}

void FpRoundTrip::eval_cpu(const std::vector<array>& inputs, array& out) {
  const quant::FpGroupFormat f = group_format(*this, inputs);
  array xs;
  const float* x = cpu::row_major<float>(inputs[0], float32, xs);
  cpu::allocate(out);
  const int group = group_size();
  auto* dst = static_cast<char*>(out.raw_ptr());
  for_group_chunks(out.size() / group, group, [&](size_t g0, size_t g1, float* values) {
    float* v = values;
    uint8_t codes[32];
    for (size_t g = g0; g < g1; ++g) {
      const uint8_t scale_code = quant::fp_quantize_group(x + g * group, group, f, codes);
      const float factor = f.scale_factor(scale_code);
      for (int i = 0; i < group; ++i) *v++ = f.element(codes[i]) * factor;
    }
    cpu::convert_contiguous(values, float32, dst + g0 * group * out.itemsize(), out.dtype(), (g1 - g0) * group);
  });
}

}  // namespace lmx
