// Convolutions, channels-last as in MLX: input (N, *spatial, C_in), weight
// (C_out, *kernel, C_in / groups) -> (N, *out_spatial, C_out). Where
// convolution nodes run (primitives/conv.h: float32 on the CPU; float32 and
// 16-bit floats on a GPU with cuDNN), one-group convolutions and transposed
// convolutions go to them. The rest is built from strided slices (an im2col
// of kernel-offset windows) and one batched matmul per group, so autodiff
// and vmap come from those ops.
#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "lmx/ops/ops.h"
#include "lmx/primitives/conv.h"

namespace lmx {

namespace {

std::vector<int> expand(const std::vector<int>& v, int nd, const char* what) {
  if (v.size() == 1) return std::vector<int>(nd, v[0]);
  if (static_cast<int>(v.size()) != nd)
    throw std::invalid_argument(std::string("[conv] ") + what + " needs 1 or " + std::to_string(nd) + " values.");
  return v;
}

// Zeros between input elements along each spatial dim (input_dilation).
array dilate_input(const array& x, const std::vector<int>& d, S s) {
  Shape shape = x.shape();
  bool any = false;
  Shape start(x.ndim(), 0), stop = x.shape(), step(x.ndim(), 1);
  for (size_t i = 0; i < d.size(); ++i) {
    int ax = static_cast<int>(i) + 1;
    if (d[i] == 1 || x.shape(ax) == 0) continue;
    any = true;
    shape[ax] = (x.shape(ax) - 1) * d[i] + 1;
    stop[ax] = shape[ax];
    step[ax] = d[i];
  }
  if (!any) return x;
  return slice_update(zeros(shape, x.dtype(), s), x, start, stop, step, s);
}

}  // namespace

array conv_general(const array& input, const array& weight, std::vector<int> stride, std::vector<int> pad_lo,
                   std::vector<int> pad_hi, std::vector<int> kernel_dilation, std::vector<int> input_dilation,
                   int groups, bool flip, S s) {
  int nd = input.ndim() - 2;
  if (nd < 1 || weight.ndim() != input.ndim())
    throw std::invalid_argument("[conv] Expected input (N, *spatial, C) and weight (C_out, *kernel, C_in) of equal "
                                "rank >= 3, got " + shape_string(input.shape()) + " and " +
                                shape_string(weight.shape()) + ".");
  if (groups < 1 || input.shape(-1) % groups != 0 || weight.shape(0) % groups != 0)
    throw std::invalid_argument("[conv] groups must divide both the input and output channels.");
  if (input.shape(-1) / groups != weight.shape(-1))
    throw std::invalid_argument("[conv] Expected " + std::to_string(input.shape(-1) / groups) +
                                " input channels per group in the weight, got " + std::to_string(weight.shape(-1)) +
                                ".");
  stride = expand(stride, nd, "stride");
  pad_lo = expand(pad_lo, nd, "padding");
  pad_hi = expand(pad_hi, nd, "padding");
  kernel_dilation = expand(kernel_dilation, nd, "kernel_dilation");
  input_dilation = expand(input_dilation, nd, "input_dilation");
  for (int i = 0; i < nd; ++i)
    if (stride[i] < 1 || kernel_dilation[i] < 1 || input_dilation[i] < 1)
      throw std::invalid_argument("[conv] Strides and dilations must be positive.");
  for (const array* x : {&input, &weight})
    if (!is_inexact(x->dtype()) || is_complex(x->dtype()))
      throw std::invalid_argument("[conv] Only real floating point inputs are supported, got " +
                                  dtype_name(x->dtype()) + ".");
  Dtype t = promote_types(input.dtype(), weight.dtype());
  array w = astype(weight, t, s);
  if (flip) {
    std::vector<int> axes(nd);
    std::iota(axes.begin(), axes.end(), 1);
    w = lmx::flip(w, axes, s);
  }
  for (int i = 0; i < nd; ++i) {
    const int64_t span = static_cast<int64_t>(kernel_dilation[i]) * (w.shape(i + 1) - 1) + 1;
    const int64_t padded = input.shape(i + 1) == 0 ? int64_t{pad_lo[i]} + pad_hi[i]
                                                   : static_cast<int64_t>(input.shape(i + 1) - 1) * input_dilation[i] +
                                                         1 + pad_lo[i] + pad_hi[i];
    if (padded < span)
      throw std::invalid_argument("[conv] The (dilated) kernel of size " + std::to_string(span) +
                                  " does not fit the padded input of size " + std::to_string(padded) + ".");
  }
  // One group, 1 to 3 spatial dims, no input dilation and no cropping: a
  // convolution node, with backward passes of its own. On the CPU for
  // float32 (blocked im2col and gemm); on the GPU for float32, float16 and
  // bfloat16 where the backend runs the nodes (cuDNN), unequal padding
  // first made equal by padding the input. The rest is built from windows
  // below, which autodiff and vmap follow.
  auto is_one = [](int v) { return v == 1; };
  auto non_negative = [](int v) { return v >= 0; };
  const Stream stream = to_stream(s);
  const bool on_gpu = stream.device.type == Device::Type::gpu;
  if (convolution_node_runs(t, stream) && groups == 1 && nd <= 3 &&
      std::all_of(input_dilation.begin(), input_dilation.end(), is_one) &&
      std::all_of(pad_lo.begin(), pad_lo.end(), non_negative) &&
      std::all_of(pad_hi.begin(), pad_hi.end(), non_negative)) {
    array x = astype(input, t, s);
    std::vector<int> lo = pad_lo, hi = pad_hi;
    if (on_gpu && lo != hi) {
      std::vector<std::pair<int, int>> extra = {{0, 0}};
      for (int i = 0; i < nd; ++i) {
        const int both = std::min(lo[i], hi[i]);
        extra.emplace_back(lo[i] - both, hi[i] - both);
        lo[i] = hi[i] = both;
      }
      extra.emplace_back(0, 0);
      x = pad(x, extra, zeros({}, t, s), "constant", s);
    }
    return convolution(x, w, ConvParams{stride, lo, hi, kernel_dilation}, s);
  }
  array x = dilate_input(astype(input, t, s), input_dilation, s);
  std::vector<std::pair<int, int>> widths = {{0, 0}};
  bool crop = false;
  for (int i = 0; i < nd; ++i) {
    widths.emplace_back(std::max(pad_lo[i], 0), std::max(pad_hi[i], 0));
    crop |= pad_lo[i] < 0 || pad_hi[i] < 0;
  }
  widths.emplace_back(0, 0);
  x = pad(x, widths, zeros({}, t, s), "constant", s);
  if (crop) {  // negative padding removes elements
    Shape st(x.ndim(), 0), sp = x.shape(), step(x.ndim(), 1);
    for (int i = 0; i < nd; ++i) st[i + 1] = std::max(-pad_lo[i], 0), sp[i + 1] = x.shape(i + 1) - std::max(-pad_hi[i], 0);
    x = slice(x, st, sp, step, s);
  }
  // Output size per spatial dim (the kernel fits: checked above).
  Shape out_spatial;
  for (int i = 0; i < nd; ++i)
    out_spatial.push_back((x.shape(i + 1) - (kernel_dilation[i] * (w.shape(i + 1) - 1) + 1)) / stride[i] + 1);
  // One strided window per kernel offset: (N, *out, C_in) each.
  ShapeElem kernel_size = 1;
  for (int i = 0; i < nd; ++i) kernel_size *= w.shape(i + 1);
  std::vector<array> windows;
  for (ShapeElem k = 0; k < kernel_size; ++k) {
    ShapeElem rem = k;
    Shape st(x.ndim(), 0), sp = x.shape(), step(x.ndim(), 1);
    for (int i = nd - 1; i >= 0; --i) {
      ShapeElem off = rem % w.shape(i + 1);
      rem /= w.shape(i + 1);
      st[i + 1] = off * kernel_dilation[i];
      sp[i + 1] = st[i + 1] + (out_spatial[i] - 1) * stride[i] + 1;
      step[i + 1] = stride[i];
    }
    windows.push_back(slice(x, st, sp, step, s));
  }
  array patches = stack(windows, -2, s);  // (N, *out, K, C_in)
  ShapeElem n = input.shape(0), rows = n, cin_g = w.shape(-1), cout = w.shape(0), cout_g = cout / groups;
  for (auto d : out_spatial) rows *= d;
  // (G, rows, K * C_in_g) @ (G, K * C_in_g, C_out_g)
  array p = reshape(patches, {rows, kernel_size, groups, cin_g}, s);
  p = reshape(transpose(p, {2, 0, 1, 3}, s), {groups, rows, kernel_size * cin_g}, s);
  array wk = reshape(w, {groups, cout_g, kernel_size * cin_g}, s);
  array y = matmul(p, swapaxes(wk, -1, -2, s), s);  // (G, rows, C_out_g)
  Shape out = {n};
  out.insert(out.end(), out_spatial.begin(), out_spatial.end());
  out.push_back(cout);
  return reshape(transpose(y, {1, 0, 2}, s), out, s);
}

array conv_nd(const array& input, const array& weight, int nd, const std::vector<int>& stride,
              const std::vector<int>& padding, const std::vector<int>& dilation, int groups, S s) {
  if (input.ndim() != nd + 2)
    throw std::invalid_argument("[conv" + std::to_string(nd) + "d] Expected an input with " + std::to_string(nd + 2) +
                                " dimensions, got " + shape_string(input.shape()) + ".");
  return conv_general(input, weight, stride, padding, padding, dilation, {1}, groups, false, s);
}

array conv_transpose_nd(const array& input, const array& weight, int nd, std::vector<int> stride,
                        std::vector<int> padding, std::vector<int> dilation, std::vector<int> output_padding,
                        int groups, S s) {
  if (input.ndim() != nd + 2 || weight.ndim() != nd + 2)
    throw std::invalid_argument("[conv_transpose" + std::to_string(nd) + "d] Expected inputs with " +
                                std::to_string(nd + 2) + " dimensions.");
  stride = expand(stride, nd, "stride");
  padding = expand(padding, nd, "padding");
  dilation = expand(dilation, nd, "dilation");
  output_padding = expand(output_padding, nd, "output_padding");
  // The transpose of a strided conv is that conv's input gradient: a
  // convolution node of that kind where nodes run, for one group and
  // output padding below the stride (the output sizes a forward conv of
  // this geometry maps back from), with the weight's channel axes swapped.
  const Dtype t = promote_types(input.dtype(), weight.dtype());
  bool as_node = groups == 1 && input.shape(-1) == weight.shape(-1) && convolution_node_runs(t, to_stream(s));
  Shape out_shape = {input.shape(0)};
  for (int i = 0; i < nd && as_node; ++i) {
    const int64_t size = static_cast<int64_t>(input.shape(i + 1) - 1) * stride[i] - 2 * int64_t{padding[i]} +
                         int64_t{dilation[i]} * (weight.shape(i + 1) - 1) + 1 + output_padding[i];
    as_node = stride[i] >= 1 && dilation[i] >= 1 && padding[i] >= 0 && output_padding[i] >= 0 &&
              output_padding[i] < stride[i] && input.shape(i + 1) > 0 && weight.shape(i + 1) > 0 && size >= 1;
    out_shape.push_back(static_cast<ShapeElem>(size));
  }
  if (as_node) {
    out_shape.push_back(weight.shape(0));
    array w = astype(swapaxes(weight, 0, -1, s), t, s);  // (C_in, *kernel, C_out): the forward conv's weight
    return convolution_input_grad(astype(input, t, s), w, out_shape, ConvParams{stride, padding, padding, dilation}, s);
  }
  // The transpose of a strided conv: dilate the input by the stride, pad by
  // the kernel's reach minus the padding, and correlate with the flipped kernel.
  std::vector<int> lo(nd), hi(nd);
  for (int i = 0; i < nd; ++i) {
    int reach = dilation[i] * (weight.shape(i + 1) - 1);
    lo[i] = reach - padding[i];
    hi[i] = reach - padding[i] + output_padding[i];
  }
  return conv_general(input, weight, {1}, lo, hi, dilation, stride, groups, true, s);
}

array convolve(const array& a, const array& v, const std::string& mode, S s) {
  if (a.ndim() != 1 || v.ndim() != 1) throw std::invalid_argument("[convolve] Inputs must be 1-dimensional.");
  if (a.size() == 0 || v.size() == 0) throw std::invalid_argument("[convolve] Inputs cannot be empty.");
  // NumPy's convolve: the longer input slides over the shorter one.
  const array& big = a.size() >= v.size() ? a : v;
  const array& small = a.size() >= v.size() ? v : a;
  int m = small.shape(0);
  int lo, hi;
  if (mode == "full") lo = hi = m - 1;
  else if (mode == "same") lo = (m - 1) - (m - 1) / 2, hi = (m - 1) / 2;  // centred, as NumPy
  else if (mode == "valid") lo = hi = 0;
  else throw std::invalid_argument("[convolve] mode must be 'full', 'same' or 'valid', got '" + mode + "'.");
  array x = reshape(big, {1, big.shape(0), 1}, s);
  array w = reshape(small, {1, m, 1}, s);
  return reshape(conv_general(x, w, {1}, {lo}, {hi}, {1}, {1}, 1, true, s), {-1}, s);
}

}  // namespace lmx
