// Short-time Fourier transforms (mx.fft.stft / istft), composed of framing
// views, the FFT primitive and an overlap-add scatter.
#include <stdexcept>

#include "lmx/ops/fft.h"
#include "lmx/primitives/index.h"

namespace lmx::fft {

namespace {

// The analysis/synthesis window: `window` (or a rectangle of win_length)
// centred in n_fft samples.
array full_window(const std::optional<array>& window, int n_fft, int win_length, const char* op, S s) {
  if (win_length <= 0 || win_length > n_fft)
    throw std::invalid_argument(std::string("[") + op + "] win_length must be in [1, n_fft], got " +
                                std::to_string(win_length) + ".");
  array w = window ? astype(*window, float32, s) : ones({win_length}, float32, s);
  if (w.ndim() != 1 || w.shape(0) != win_length)
    throw std::invalid_argument(std::string("[") + op + "] window must be one-dimensional of length win_length (" +
                                std::to_string(win_length) + "), got " + shape_string(w.shape()) + ".");
  int left = (n_fft - win_length) / 2;
  return pad(w, {{left, n_fft - win_length - left}}, array(0.0f), "constant", s);
}

void check_sizes(int n_fft, int hop, const char* op) {
  if (n_fft <= 0) throw std::invalid_argument(std::string("[") + op + "] n_fft must be positive.");
  if (hop <= 0) throw std::invalid_argument(std::string("[") + op + "] hop_length must be positive.");
}

}  // namespace

array stft(const array& x, int n_fft, std::optional<int> hop_length, std::optional<int> win_length,
           const std::optional<array>& window, bool center, const std::string& pad_mode, const std::string& norm,
           std::optional<bool> onesided, S s) {
  const int hop = hop_length.value_or(n_fft / 4);
  check_sizes(n_fft, hop, "stft");
  if (x.ndim() == 0) throw std::invalid_argument("[stft] x must have at least one dimension.");
  const bool real = !is_complex(x.dtype());
  const bool one = onesided.value_or(real);
  if (one && !real) throw std::invalid_argument("[stft] onesided=True needs a real input.");
  array w = full_window(window, n_fft, win_length.value_or(n_fft), "stft", s);
  array sig = real ? astype(x, float32, s) : x;
  if (center) {
    if (pad_mode != "reflect" && pad_mode != "constant" && pad_mode != "edge")
      throw std::invalid_argument("[stft] pad_mode must be 'reflect', 'constant' or 'edge', got '" + pad_mode + "'.");
    std::vector<std::pair<int, int>> widths(sig.ndim(), {0, 0});
    widths.back() = {n_fft / 2, n_fft / 2};
    sig = pad(sig, widths, array(0.0f), pad_mode, s);
  }
  const ShapeElem len = sig.shape(-1);
  if (len < n_fft)
    throw std::invalid_argument("[stft] The signal (" + std::to_string(len) + " samples after padding) is shorter "
                                "than n_fft (" + std::to_string(n_fft) + ").");
  const ShapeElem frames = 1 + (len - n_fft) / hop;
  // Frames as a strided view: (..., frames, n_fft).
  sig = contiguous(sig, false, s);
  Shape shape(sig.shape().begin(), sig.shape().end() - 1);
  Strides strides = row_major_strides(sig.shape());
  strides.pop_back();  // the leading axes keep their strides; the signal axis becomes (frames, n_fft)
  shape.push_back(frames), shape.push_back(n_fft);
  strides.push_back(hop), strides.push_back(1);
  array framed = multiply(as_strided(sig, shape, strides, 0, s), w, s);
  array spec = one ? rfft(framed, n_fft, -1, norm, s) : fft(framed, n_fft, -1, norm, s);
  return swapaxes(spec, -1, -2, s);  // (..., n_freq, frames)
}

array istft(const array& stft_matrix, std::optional<int> n_fft_in, std::optional<int> hop_length,
            std::optional<int> win_length, const std::optional<array>& window, bool center, const std::string& norm,
            std::optional<bool> onesided, std::optional<int> length, S s) {
  if (stft_matrix.ndim() < 2)
    throw std::invalid_argument("[istft] stft_matrix must have shape (..., n_freq, n_frames).");
  const bool one = onesided.value_or(true);
  const ShapeElem n_freq = stft_matrix.shape(-2), frames = stft_matrix.shape(-1);
  const int n_fft = n_fft_in.value_or(one ? 2 * (n_freq - 1) : n_freq);
  const int hop = hop_length.value_or(n_fft / 4);
  check_sizes(n_fft, hop, "istft");
  array w = full_window(window, n_fft, win_length.value_or(n_fft), "istft", s);
  array spec = swapaxes(astype(stft_matrix, complex64, s), -1, -2, s);  // (..., frames, n_freq)
  array framed = one ? irfft(spec, n_fft, -1, norm, s) : ifft(spec, n_fft, -1, norm, s);
  framed = multiply(framed, w, s);  // (..., frames, n_fft)
  // Overlap-add of the frames and of the squared window, by scattering into
  // the signal axis moved to the front.
  const ShapeElem total = n_fft + static_cast<ShapeElem>(hop) * (frames - 1);
  array pos = add(reshape(multiply(arange(0, frames, 1, int32, s), array(hop), s), {frames, 1}, s),
                  reshape(arange(0, n_fft, 1, int32, s), {1, n_fft}, s), s);
  array flat_pos = reshape(pos, {frames * n_fft}, s);
  auto overlap_add = [&](const array& f) {
    // f (..., frames, n_fft) -> (frames * n_fft, ...) updates for a (total, ...) target.
    int nd = f.ndim();
    Shape lead(f.shape().begin(), f.shape().end() - 2);
    array u = reshape(f, [&] {
      Shape sh = lead;
      sh.push_back(frames * n_fft);
      return sh;
    }(), s);
    u = moveaxis(u, nd - 2, 0, s);
    Shape target = lead;
    target.insert(target.begin(), total);
    array out = scatter(zeros(target, f.dtype(), s), {flat_pos}, u, {0}, ScatterMode::Add, s);
    return moveaxis(out, 0, -1, s);  // (..., total)
  };
  array signal = overlap_add(framed);
  array envelope = overlap_add(broadcast_to(square(w, s), {frames, n_fft}, s));
  // Where the window never reaches, the signal stays unnormalised (zero).
  array safe = where(greater(envelope, array(1e-11f), s), envelope, array(1.0f), s);
  signal = divide(signal, safe, s);
  ShapeElem start = center ? n_fft / 2 : 0;
  ShapeElem end = total - (center ? n_fft / 2 : 0);
  if (length) end = start + *length;
  if (end > total) {
    std::vector<std::pair<int, int>> widths(signal.ndim(), {0, 0});
    widths.back() = {0, static_cast<int>(end - total)};
    signal = pad(signal, widths, array(0.0f), "constant", s);
  }
  Shape a(signal.ndim(), 0), b = signal.shape(), step(signal.ndim(), 1);
  a.back() = start, b.back() = end;
  return slice(signal, a, b, step, s);
}

}  // namespace lmx::fft
