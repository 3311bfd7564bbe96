// Convolution nodes, channels-last: x (N, *spatial, C_in), w (C_out,
// *kernel, C_in), y (N, *out, C_out), one group, zero padding, no input
// dilation (ops/conv.cpp builds the other cases from ops). Three kinds share
// one geometry, and their vjps stay among them:
//   forward      y  = conv(x, w)
//   input_grad   dx = the x-shaped cotangent of conv for y's cotangent g, w
//   weight_grad  dw = the w-shaped cotangent of conv for x and g
// Each is linear in each input, so second derivatives are these nodes again.
#pragma once

#include <cstdint>
#include <vector>

#include "lmx/ops/utils.h"
#include "lmx/primitives/primitive.h"

namespace lmx {

// Per spatial dim: output position o reads inputs o * stride - pad_lo +
// k * dilation for kernel offsets k; pad_hi zeros follow the input.
struct ConvParams {
  std::vector<int> stride, pad_lo, pad_hi, dilation;
  bool operator==(const ConvParams&) const = default;
};

enum class ConvKind : uint8_t { forward, input_grad, weight_grad };

class Convolution : public UnaryPrimitive {
 public:
  Convolution(Stream s, ConvKind kind, ConvParams params) : UnaryPrimitive(s), kind_(kind), params_(std::move(params)) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  std::string name() const override;
  bool is_equivalent(const Primitive& o) const override;
  ConvKind kind() const { return kind_; }
  const ConvParams& params() const { return params_; }

 private:
  ConvKind kind_;
  ConvParams params_;
};

// Whether convolution nodes of dtype t run on stream s: the CPU's kernels
// take float32; a GPU backend's (cuDNN) float32, float16 and bfloat16.
// ops/conv.cpp routes convolutions to nodes only where this holds, and the
// node constructors below refuse the rest.
bool convolution_node_runs(Dtype t, const Stream& s);

// The nodes, with their shapes checked: the output size of each spatial dim
// is (in + pad_lo + pad_hi - (kernel - 1) * dilation - 1) / stride + 1.
array convolution(const array& x, const array& w, const ConvParams& p, StreamOrDevice s = {});
array convolution_input_grad(const array& g, const array& w, const Shape& x_shape, const ConvParams& p,
                             StreamOrDevice s = {});
array convolution_weight_grad(const array& x, const array& g, const Shape& w_shape, const ConvParams& p,
                              StreamOrDevice s = {});

}  // namespace lmx
