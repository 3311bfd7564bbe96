#include "lmx/primitives/conv.h"

#include <stdexcept>
#include <string>

#include "lmx/ops/ops.h"
#include "lmx/runtime/gpu.h"

namespace lmx {

namespace {

// The shapes of one convolution: x (N, *in, C_in), w (C_out, *kernel, C_in),
// y (N, *out, C_out). Throws, naming `op`, when they do not fit together.
void check_geometry(const Shape& x, const Shape& w, const Shape& y, const ConvParams& p, const std::string& op) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("[" + op + "] " + why + " (x " + shape_string(x) + ", w " + shape_string(w) +
                                ", y " + shape_string(y) + ").");
  };
  const size_t nd = p.stride.size();
  if (nd < 1 || nd > 3 || p.pad_lo.size() != nd || p.pad_hi.size() != nd || p.dilation.size() != nd)
    fail("Expected 1 to 3 spatial dims with a stride, both paddings and a dilation each");
  if (x.size() != nd + 2 || w.size() != nd + 2 || y.size() != nd + 2)
    fail("Expected arrays with " + std::to_string(nd + 2) + " dims");
  if (x[0] != y[0] || x.back() != w.back() || w[0] != y.back()) fail("Batch or channel sizes disagree");
  for (size_t i = 0; i < nd; ++i) {
    if (p.stride[i] < 1 || p.dilation[i] < 1 || p.pad_lo[i] < 0 || p.pad_hi[i] < 0)
      fail("Strides and dilations must be positive and paddings non-negative");
    const int64_t span = static_cast<int64_t>(w[i + 1] - 1) * p.dilation[i] + 1;
    const int64_t padded = static_cast<int64_t>(x[i + 1]) + p.pad_lo[i] + p.pad_hi[i];
    if (w[i + 1] < 1 || padded < span || y[i + 1] != (padded - span) / p.stride[i] + 1)
      fail("The output size does not follow from the input, kernel, stride, padding and dilation");
  }
}

void check_dtypes(const array& a, const array& b, const Stream& s, const std::string& op) {
  const Dtype t = a.dtype();
  if (b.dtype() != t || !convolution_node_runs(t, s))
    throw std::invalid_argument("[" + op + "] Expects two operands of one dtype that runs on the stream (float32 on "
                                "the CPU; float32, float16 or bfloat16 on a GPU with cuDNN), got " + dtype_name(t) +
                                " and " + dtype_name(b.dtype()) + ".");
}

}  // namespace

bool convolution_node_runs(Dtype t, const Stream& s) {
  if (s.device.type == Device::Type::cpu) return t == float32;
  return (t == float32 || t == float16 || t == bfloat16) && gpu::convolution_available();
}

array convolution(const array& x, const array& w, const ConvParams& p, StreamOrDevice s) {
  const Stream stream = to_stream(s);
  check_dtypes(x, w, stream, "convolution");
  const int nd = static_cast<int>(p.stride.size());
  Shape y = x.shape();  // replaced when the ranks fit, so that check_geometry names the mismatch
  if (x.ndim() == nd + 2 && w.ndim() == nd + 2 && p.dilation.size() == p.stride.size() &&
      p.pad_lo.size() == p.stride.size() && p.pad_hi.size() == p.stride.size()) {
    y = {x.shape(0)};
    for (int i = 0; i < nd; ++i) {
      const int64_t span = static_cast<int64_t>(w.shape(i + 1) - 1) * p.dilation[i] + 1;
      const int64_t padded = static_cast<int64_t>(x.shape(i + 1)) + p.pad_lo[i] + p.pad_hi[i];
      y.push_back(p.stride[i] >= 1 && padded >= span ? static_cast<ShapeElem>((padded - span) / p.stride[i] + 1) : -1);
    }
    y.push_back(w.shape(0));
  }
  check_geometry(x.shape(), w.shape(), y, p, "convolution");
  return array(y, x.dtype(), std::make_shared<Convolution>(stream, ConvKind::forward, p), {x, w});
}

array convolution_input_grad(const array& g, const array& w, const Shape& x_shape, const ConvParams& p,
                             StreamOrDevice s) {
  const Stream stream = to_stream(s);
  check_dtypes(g, w, stream, "convolution_input_grad");
  check_geometry(x_shape, w.shape(), g.shape(), p, "convolution_input_grad");
  return array(x_shape, g.dtype(), std::make_shared<Convolution>(stream, ConvKind::input_grad, p), {g, w});
}

array convolution_weight_grad(const array& x, const array& g, const Shape& w_shape, const ConvParams& p,
                              StreamOrDevice s) {
  const Stream stream = to_stream(s);
  check_dtypes(x, g, stream, "convolution_weight_grad");
  check_geometry(x.shape(), w_shape, g.shape(), p, "convolution_weight_grad");
  return array(w_shape, x.dtype(), std::make_shared<Convolution>(stream, ConvKind::weight_grad, p), {x, g});
}

std::string Convolution::name() const {
  switch (kind_) {
    case ConvKind::forward: return "convolution";
    case ConvKind::input_grad: return "convolution_input_grad";
    case ConvKind::weight_grad: return "convolution_weight_grad";
  }
  return "convolution";
}

bool Convolution::is_equivalent(const Primitive& o) const {
  auto* c = dynamic_cast<const Convolution*>(&o);
  return c && c->kind_ == kind_ && c->params_ == params_;
}

// With y = conv(x, w), dx = input_grad(g, w) and dw = weight_grad(x, g):
//   conv:        d/dx <- input_grad(h, w),  d/dw <- weight_grad(x, h)
//   input_grad:  d/dg <- conv(h, w),        d/dw <- weight_grad(h, g)
//   weight_grad: d/dx <- input_grad(g, h),  d/dg <- conv(x, h)
// (h the cotangent of the node's output).
std::vector<array> Convolution::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const array &a = primals[0], &b = primals[1], &h = cotangents[0];
  std::vector<array> out;
  for (int arg : argnums) {
    switch (kind_) {
      case ConvKind::forward:
        out.push_back(arg == 0 ? convolution_input_grad(h, b, a.shape(), params_, stream())
                               : convolution_weight_grad(a, h, b.shape(), params_, stream()));
        break;
      case ConvKind::input_grad:
        out.push_back(arg == 0 ? convolution(h, b, params_, stream())
                               : convolution_weight_grad(h, a, b.shape(), params_, stream()));
        break;
      case ConvKind::weight_grad:
        out.push_back(arg == 0 ? convolution_input_grad(b, h, a.shape(), params_, stream())
                               : convolution(a, h, params_, stream()));
        break;
    }
  }
  return out;
}

// A batch of images against one weight is a bigger batch of images; other
// cases map slice by slice.
std::pair<std::vector<array>, std::vector<int>> Convolution::vmap(const std::vector<array>& inputs,
                                                                  const std::vector<int>& axes,
                                                                  const std::vector<array>& outputs) {
  if (kind_ != ConvKind::forward || axes[1] >= 0) return Primitive::vmap(inputs, axes, outputs);
  array x = moveaxis(inputs[0], axes[0], 0);
  const ShapeElem batch = x.shape(0);
  Shape folded(x.shape().begin() + 1, x.shape().end());
  folded[0] *= batch;
  array y = convolution(reshape(x, folded), inputs[1], params_, stream());
  Shape unfolded = y.shape();
  unfolded[0] = x.shape(1);  // the images of one batch entry
  unfolded.insert(unfolded.begin(), batch);
  return {{reshape(y, unfolded)}, {0}};
}

}  // namespace lmx
