#include "lmx/ops/fft.h"

#include <cmath>
#include <stdexcept>

#include "lmx/primitives/fft.h"

namespace lmx::fft {

namespace {

// a cropped or zero-padded to n along axis.
array fit(const array& a, int axis, ShapeElem n, S s) {
  ShapeElem have = a.shape(axis);
  if (have == n) return a;
  if (have > n) {
    Shape st(a.ndim(), 0), sp = a.shape(), step(a.ndim(), 1);
    sp[axis] = n;
    return slice(a, st, sp, step, s);
  }
  std::vector<std::pair<int, int>> w(a.ndim(), {0, 0});
  w[axis] = {0, n - have};
  return pad(a, w, zeros({}, a.dtype(), s), "constant", s);
}

// The scale of a transform of length n under `norm`, forward or inverse.
double scale(const std::string& norm, ShapeElem n, bool inverse) {
  if (norm == "backward") return inverse ? 1.0 / n : 1.0;
  if (norm == "forward") return inverse ? 1.0 : 1.0 / n;
  if (norm == "ortho") return 1.0 / std::sqrt(static_cast<double>(n));
  throw std::invalid_argument("[fft] norm must be 'backward', 'ortho' or 'forward', got '" + norm + "'.");
}

array one_axis(const array& x, int axis, bool inverse, S s) {
  return array(x.shape(), complex64, std::make_shared<FFT>(to_stream(s), axis, inverse), {x});
}

struct AxesSizes {
  std::vector<int> axes;
  Shape sizes;
};

AxesSizes resolve(const array& a, const std::optional<Shape>& sizes, const std::optional<std::vector<int>>& axes_in,
                  const char* op) {
  AxesSizes r;
  if (axes_in) {
    for (int ax : *axes_in) r.axes.push_back(normalize_axis(ax, a.ndim(), op));
  } else {
    // As MLX (unlike NumPy): s needs explicit axes.
    if (sizes) throw std::invalid_argument(std::string("[") + op + "] s requires axes to be given.");
    for (int i = 0; i < a.ndim(); ++i) r.axes.push_back(i);
  }
  for (size_t i = 0; i < r.axes.size(); ++i)
    for (size_t j = i + 1; j < r.axes.size(); ++j)
      if (r.axes[i] == r.axes[j]) throw std::invalid_argument(std::string("[") + op + "] Duplicate axes.");
  if (sizes) {
    if (sizes->size() != r.axes.size())
      throw std::invalid_argument(std::string("[") + op + "] s and axes must have the same length.");
    r.sizes = *sizes;
  } else {
    for (int ax : r.axes) r.sizes.push_back(a.shape(ax));
  }
  for (auto n : r.sizes)
    if (n <= 0) throw std::invalid_argument(std::string("[") + op + "] Transform lengths must be positive.");
  return r;
}

array complex_fftn(const array& a, const AxesSizes& r, bool inverse, const std::string& norm, S s) {
  array x = astype(a, complex64, s);
  double sc = 1.0;
  for (size_t i = 0; i < r.axes.size(); ++i) {
    x = one_axis(fit(x, r.axes[i], r.sizes[i], s), r.axes[i], inverse, s);
    sc *= scale(norm, r.sizes[i], inverse);
  }
  return sc == 1.0 ? x : multiply(x, array(static_cast<float>(sc), complex64), s);
}


}  // namespace

array fftn(const array& a, const std::optional<Shape>& sizes, const std::optional<std::vector<int>>& axes,
           const std::string& norm, S s) {
  return complex_fftn(a, resolve(a, sizes, axes, "fftn"), false, norm, s);
}
array ifftn(const array& a, const std::optional<Shape>& sizes, const std::optional<std::vector<int>>& axes,
            const std::string& norm, S s) {
  return complex_fftn(a, resolve(a, sizes, axes, "ifftn"), true, norm, s);
}
array fft(const array& a, std::optional<int> n, int axis, const std::string& norm, S s) {
  int ax = normalize_axis(axis, a.ndim(), "fft");
  return complex_fftn(a, resolve(a, Shape{n.value_or(a.shape(ax))}, std::vector<int>{ax}, "fft"), false, norm, s);
}
array ifft(const array& a, std::optional<int> n, int axis, const std::string& norm, S s) {
  int ax = normalize_axis(axis, a.ndim(), "ifft");
  return complex_fftn(a, resolve(a, Shape{n.value_or(a.shape(ax))}, std::vector<int>{ax}, "ifft"), true, norm, s);
}

// Real input: the full transform, keeping the n/2 + 1 non-redundant entries
// of the last axis.
array rfftn(const array& a, const std::optional<Shape>& sizes, const std::optional<std::vector<int>>& axes,
            const std::string& norm, S s) {
  auto r = resolve(a, sizes, axes, "rfftn");
  // A complex input contributes its real part (as MLX).
  array re = is_complex(a.dtype()) ? real(a, s) : astype(a, is_inexact(a.dtype()) ? a.dtype() : float32, s);
  array x = complex_fftn(re, r, false, norm, s);
  int last = r.axes.back();
  Shape st(x.ndim(), 0), sp = x.shape(), step(x.ndim(), 1);
  sp[last] = r.sizes.back() / 2 + 1;
  return slice(x, st, sp, step, s);
}
array rfft(const array& a, std::optional<int> n, int axis, const std::string& norm, S s) {
  int ax = normalize_axis(axis, a.ndim(), "rfft");
  return rfftn(a, Shape{n.value_or(a.shape(ax))}, std::vector<int>{ax}, norm, s);
}

// Hermitian input: the other axes transform as complex; the last one is
// completed to its full length (X[n-k] = conj(X[k])) and its real part kept.
array irfftn(const array& a, const std::optional<Shape>& sizes, const std::optional<std::vector<int>>& axes,
             const std::string& norm, S s) {
  auto r = resolve(a, sizes, axes, "irfftn");
  if (!sizes) r.sizes.back() = 2 * (a.shape(r.axes.back()) - 1);
  if (r.sizes.back() <= 0) throw std::invalid_argument("[irfftn] The output length must be positive.");
  array x = astype(a, complex64, s);
  AxesSizes front{{r.axes.begin(), r.axes.end() - 1}, {r.sizes.begin(), r.sizes.end() - 1}};
  x = complex_fftn(x, front, true, norm, s);
  int last = r.axes.back();
  ShapeElem n = r.sizes.back(), half = n / 2 + 1;
  x = fit(x, last, half, s);
  // Entries 1 .. n - half, mirrored and conjugated, complete the spectrum.
  ShapeElem mirror = n - half;
  if (mirror > 0) {
    Shape st(x.ndim(), 0), sp = x.shape(), step(x.ndim(), 1);
    st[last] = mirror;
    sp[last] = 0;
    step[last] = -1;
    x = concatenate({x, conjugate(slice(x, st, sp, step, s), s)}, last, s);
  }
  x = one_axis(x, last, true, s);
  double sc = scale(norm, n, true);
  array y = real(x, s);
  return sc == 1.0 ? y : multiply(y, array(static_cast<float>(sc)), s);
}
array irfft(const array& a, std::optional<int> n, int axis, const std::string& norm, S s) {
  int ax = normalize_axis(axis, a.ndim(), "irfft");
  std::optional<Shape> sz;
  if (n) sz = Shape{*n};
  return irfftn(a, sz, std::vector<int>{ax}, norm, s);
}

array fftfreq(int n, double d, S s) {
  if (n <= 0) throw std::invalid_argument("[fftfreq] n must be positive.");
  if (d == 0) throw std::invalid_argument("[fftfreq] d must be non-zero.");
  // [0, 1, ..., (n-1)/2, -(n/2), ..., -1] / (d n)
  array k = arange(0, n, 1, int32, s);
  array shifted = where(less(k, array((n + 1) / 2), s), k, subtract(k, array(n), s), s);
  return divide(astype(shifted, float32, s), array(static_cast<float>(d * n)), s);
}

array rfftfreq(int n, double d, S s) {
  if (n <= 0) throw std::invalid_argument("[rfftfreq] n must be positive.");
  if (d == 0) throw std::invalid_argument("[rfftfreq] d must be non-zero.");
  return divide(arange(0, n / 2 + 1, 1, float32, s), array(static_cast<float>(d * n)), s);
}

namespace {
array shift(const array& a, const std::optional<std::vector<int>>& axes_in, bool inverse, S s) {
  std::vector<int> axes = axes_in ? *axes_in : all_axes(a.ndim());
  Shape shifts;
  for (int& ax : axes) {
    ax = normalize_axis(ax, a.ndim(), inverse ? "ifftshift" : "fftshift");
    ShapeElem n = a.shape(ax);
    shifts.push_back(inverse ? -(n / 2) : n / 2);
  }
  if (axes.empty()) return a;
  return roll(a, shifts, axes, s);
}
}  // namespace

array fftshift(const array& a, const std::optional<std::vector<int>>& axes, S s) { return shift(a, axes, false, s); }
array ifftshift(const array& a, const std::optional<std::vector<int>>& axes, S s) { return shift(a, axes, true, s); }

}  // namespace lmx::fft
