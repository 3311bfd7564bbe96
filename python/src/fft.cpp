// Bindings of mx.fft (lmx/ops/fft.h), a submodule of lmx.core.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "lmx/ops/fft.h"

namespace lmx::py {

using namespace nb::literals;

namespace {
std::optional<std::vector<int>> opt_ints(nb::handle h) {
  if (h.is_none()) return std::nullopt;
  if (PyLong_Check(h.ptr())) return std::vector<int>{nb::cast<int>(h)};
  return nb::cast<std::vector<int>>(h);
}
std::optional<Shape> opt_shape(nb::handle h) {
  auto v = opt_ints(h);
  if (!v) return std::nullopt;
  return Shape(v->begin(), v->end());
}
}  // namespace

void init_fft(nb::module_& parent) {
  nb::module_ m = parent.def_submodule("fft", "Discrete Fourier transforms.");
#define LMX_BIND_FFT1(name)                                                                                 \
  m.def(#name,                                                                                              \
        [](const ArrayLike& a, std::optional<int> n, int axis, const std::string& norm, S s) {              \
          return fft::name(a, n, axis, norm, s);                                                            \
        },                                                                                                  \
        "a"_a, "n"_a = nb::none(), "axis"_a = -1, "norm"_a = "backward", "stream"_a = nb::none());
  LMX_BIND_FFT1(fft)
  LMX_BIND_FFT1(ifft)
  LMX_BIND_FFT1(rfft)
  LMX_BIND_FFT1(irfft)
#undef LMX_BIND_FFT1
#define LMX_BIND_FFTN(name, impl, default_axes)                                                             \
  m.def(#name,                                                                                              \
        [](const ArrayLike& a, nb::handle sizes, nb::handle axes, const std::string& norm, S s) {          \
          auto ax = opt_ints(axes);                                                                         \
          if (!ax && (default_axes)) ax = std::vector<int>{-2, -1};                                         \
          return fft::impl(a, opt_shape(sizes), ax, norm, s);                                               \
        },                                                                                                  \
        "a"_a, "s"_a = nb::none(), "axes"_a = nb::none(), "norm"_a = "backward", "stream"_a = nb::none());
  LMX_BIND_FFTN(fftn, fftn, false)
  LMX_BIND_FFTN(ifftn, ifftn, false)
  LMX_BIND_FFTN(rfftn, rfftn, false)
  LMX_BIND_FFTN(irfftn, irfftn, false)
  LMX_BIND_FFTN(fft2, fftn, true)
  LMX_BIND_FFTN(ifft2, ifftn, true)
  LMX_BIND_FFTN(rfft2, rfftn, true)
  LMX_BIND_FFTN(irfft2, irfftn, true)
#undef LMX_BIND_FFTN
  m.def(
      "stft",
      [](const ArrayLike& x, int n_fft, std::optional<int> hop, std::optional<int> win, std::optional<array> window,
         bool center, const std::string& pad_mode, const std::string& norm, std::optional<bool> onesided, S s) {
        return fft::stft(x, n_fft, hop, win, window, center, pad_mode, norm, onesided, s);
      },
      "x"_a, "n_fft"_a = 2048, "hop_length"_a = nb::none(), "win_length"_a = nb::none(), "window"_a = nb::none(),
      "center"_a = true, "pad_mode"_a = "reflect", "norm"_a = "backward", "onesided"_a = nb::none(),
      "stream"_a = nb::none());
  m.def(
      "istft",
      [](const ArrayLike& x, std::optional<int> n_fft, std::optional<int> hop, std::optional<int> win,
         std::optional<array> window, bool center, const std::string& norm, std::optional<bool> onesided,
         std::optional<int> length, S s) {
        return fft::istft(x, n_fft, hop, win, window, center, norm, onesided, length, s);
      },
      "stft_matrix"_a, "n_fft"_a = nb::none(), "hop_length"_a = nb::none(), "win_length"_a = nb::none(),
      "window"_a = nb::none(), "center"_a = true, "norm"_a = "backward", "onesided"_a = nb::none(),
      "length"_a = nb::none(), "stream"_a = nb::none());
  m.def("fftfreq", [](int n, double d, S s) { return fft::fftfreq(n, d, s); }, "n"_a, "d"_a = 1.0,
        "stream"_a = nb::none());
  m.def("rfftfreq", [](int n, double d, S s) { return fft::rfftfreq(n, d, s); }, "n"_a, "d"_a = 1.0,
        "stream"_a = nb::none());
  m.def("fftshift", [](const ArrayLike& a, nb::handle axes, S s) { return fft::fftshift(a, opt_ints(axes), s); },
        "a"_a, "axes"_a = nb::none(), "stream"_a = nb::none());
  m.def("ifftshift", [](const ArrayLike& a, nb::handle axes, S s) { return fft::ifftshift(a, opt_ints(axes), s); },
        "a"_a, "axes"_a = nb::none(), "stream"_a = nb::none());
}

}  // namespace lmx::py
