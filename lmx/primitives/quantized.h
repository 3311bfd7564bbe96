// Affine quantisation primitives. Packing: each row's values form one
// little-endian bit stream, value i at bits [i*bits, (i+1)*bits), read as
// uint32 words (MLX's layout for every bit width).
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

 private:
  bool to_fp8_;
};

}  // namespace lmx
