// The discrete Fourier transform of complex64 data along one axis
// (unnormalised; `inverse` uses the +i exponent). The mx.fft functions are
// built from it with ops.
#pragma once

#include "lmx/primitives/primitive.h"

namespace lmx {

class FFT : public UnaryPrimitive {
 public:
  FFT(Stream s, int axis, bool inverse) : UnaryPrimitive(s), axis_(axis), inverse_(inverse) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override { return inverse_ ? "ifft" : "fft"; }
  int axis() const { return axis_; }
  bool inverse() const { return inverse_; }

 private:
  int axis_;
  bool inverse_;
};

}  // namespace lmx
