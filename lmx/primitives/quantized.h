// Quantisation primitives: MLX's affine mode and its floating-point block
// modes. Packing, for every mode and bit width (MLX's layout): each row's
// values form one little-endian bit stream, value i at bits
// [i*bits, (i+1)*bits), read as uint32 words.
#pragma once

#include "lmx/primitives/primitive.h"

namespace lmx {

class AffineQuantize : public Primitive {
 public:
  AffineQuantize(Stream s, int group_size, int bits) : Primitive(s), group_size_(group_size), bits_(bits) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::string name() const override { return "quantize"; }  // not differentiable: no vjp
  int group_size() const { return group_size_; }
  int bits() const { return bits_; }

 private:
  int group_size_, bits_;
};

// Inputs: w_q, scales, biases -> scales * q + biases (the output's dtype).
class AffineDequantize : public UnaryPrimitive {
 public:
  AffineDequantize(Stream s, int group_size, int bits) : UnaryPrimitive(s), group_size_(group_size), bits_(bits) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override { return "dequantize"; }
  int group_size() const { return group_size_; }
  int bits() const { return bits_; }

 private:
  int group_size_, bits_;
};

// Inputs: x (..., M, K), w_q, scales, biases with x's batch dims (already
// broadcast), or w_q, scales, biases 2-D: one matrix for every row of x,
// whose batch dims the backends fold into its rows (nn.QuantizedLinear: no
// reshape nodes per call); output (..., M, N) in the output's dtype.
class QuantizedMatmul : public UnaryPrimitive {
 public:
  QuantizedMatmul(Stream s, int group_size, int bits, bool transpose)
      : UnaryPrimitive(s), group_size_(group_size), bits_(bits), transpose_(transpose) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override { return "quantized_matmul"; }
  bool is_equivalent(const Primitive& o) const override {
    auto* q = dynamic_cast<const QuantizedMatmul*>(&o);
    return q && q->group_size_ == group_size_ && q->bits_ == bits_ && q->transpose_ == transpose_;
  }
  int group_size() const { return group_size_; }
  int bits() const { return bits_; }
  bool transpose() const { return transpose_; }

 private:
  int group_size_, bits_;
  bool transpose_;
};

// Products of one x (..., M, K) with several affine-quantised matrices that
// share the group size and bits, each 2-D and transposed (nn.QuantizedLinear's
// weights): inputs x, then (w_i, scales_i, biases_i) for each matrix; output
// i is quantized_matmul(x, w_i, scales_i, biases_i). Only compile makes it,
// from sibling products reading the same x (q, k and v projections; gate and
// up), so that the GPU streams every matrix in one matrix-vector launch.
class QuantizedMatmulGroup : public Primitive {
 public:
  QuantizedMatmulGroup(Stream s, int group_size, int bits) : Primitive(s), group_size_(group_size), bits_(bits) {}
  static constexpr int kMaxMatrices = 4;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  LMX_DECLARE_VJP
  std::string name() const override { return "quantized_matmul_group"; }
  bool is_equivalent(const Primitive& o) const override {
    auto* q = dynamic_cast<const QuantizedMatmulGroup*>(&o);
    return q && q->group_size_ == group_size_ && q->bits_ == bits_;
  }
  int group_size() const { return group_size_; }
  int bits() const { return bits_; }
  // One member's product as a node of its own.
  QuantizedMatmul member() const { return QuantizedMatmul(stream(), group_size_, bits_, true); }

 private:
  int group_size_, bits_;
};

// The floating-point block modes (lmx/backend/common/quantize_math.h has
// their arithmetic): mxfp4 (groups of 32, e2m1, e8m0 scales), mxfp8 (32,
// e4m3, e8m0) and nvfp4 (16, e2m1, e4m3 scales, optional global scale).
enum class FpMode : uint8_t { mxfp4, mxfp8, nvfp4 };
constexpr int fp_group_size(FpMode m) { return m == FpMode::nvfp4 ? 16 : 32; }
constexpr int fp_bits(FpMode m) { return m == FpMode::mxfp8 ? 8 : 4; }
inline const char* to_string(FpMode m) {
  return m == FpMode::mxfp4 ? "mxfp4" : m == FpMode::mxfp8 ? "mxfp8" : "nvfp4";
}

// What the three fp-mode nodes share: the mode, and whether the last input
// is nvfp4's global scale (a float32 scalar).
class FpQuantBase {
 public:
  FpQuantBase(FpMode mode, bool global_scale) : mode_(mode), global_scale_(global_scale) {}
  FpMode mode() const { return mode_; }
  bool global_scale() const { return global_scale_; }
  int group_size() const { return fp_group_size(mode_); }
  int bits() const { return fp_bits(mode_); }
  // `o` is a Self node with this mode and global-scale input (is_equivalent).
  template <typename Self>
  bool same_node(const Primitive& o) const {
    auto* q = dynamic_cast<const Self*>(&o);
    return q && q->mode() == mode_ && q->global_scale() == global_scale_;
  }

 private:
  FpMode mode_;
  bool global_scale_;
};

// Inputs: w [, global scale] -> {w_q (..., K * bits / 32) uint32, scales
// (..., K / group) uint8}. Not differentiable.
class FpQuantize : public Primitive, public FpQuantBase {
 public:
  FpQuantize(Stream s, FpMode mode, bool global_scale) : Primitive(s), FpQuantBase(mode, global_scale) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::string name() const override { return "fp_quantize"; }
  bool is_equivalent(const Primitive& o) const override { return same_node<FpQuantize>(o); }
};

// Inputs: w_q, scales [, global scale] -> the values, in the output's dtype.
class FpDequantize : public UnaryPrimitive, public FpQuantBase {
 public:
  FpDequantize(Stream s, FpMode mode, bool global_scale) : UnaryPrimitive(s), FpQuantBase(mode, global_scale) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override { return "fp_dequantize"; }
  bool is_equivalent(const Primitive& o) const override { return same_node<FpDequantize>(o); }
};

// Inputs: x [, global scale] -> dequantize(quantize(x)) in x's dtype: what
// qqmm multiplies. Its gradient passes straight through to x (the rounding
// counts as the identity), as quantisation-aware training expects.
class FpRoundTrip : public UnaryPrimitive, public FpQuantBase {
 public:
  FpRoundTrip(Stream s, FpMode mode, bool global_scale) : UnaryPrimitive(s), FpQuantBase(mode, global_scale) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override { return "fp_round_trip"; }
  bool is_equivalent(const Primitive& o) const override { return same_node<FpRoundTrip>(o); }
};

// fp8 e4m3 (bias 7, no infinities, 0x7f/0xff NaN) stored as uint8: to_fp8
// rounds to nearest even and saturates at +-448 (NaN and inf included, as
// MLX does); from_fp8 converts to the output's dtype.
class Fp8Convert : public UnaryPrimitive {
 public:
  Fp8Convert(Stream s, bool to_fp8) : UnaryPrimitive(s), to_fp8_(to_fp8) {}
  LMX_DECLARE_EVAL
  std::string name() const override { return to_fp8_ ? "to_fp8" : "from_fp8"; }
  bool is_equivalent(const Primitive& o) const override {
    auto* p = dynamic_cast<const Fp8Convert*>(&o);
    return p && p->to_fp8_ == to_fp8_;
  }
  bool to_fp8() const { return to_fp8_; }

 private:
  bool to_fp8_;
};

}  // namespace lmx
