// mx.fft (ops/fft.cpp): transforms along axes built on the FFT primitive.
#pragma once

#include <string>

#include "lmx/ops/ops.h"

namespace lmx::fft {

// n / s: the transform lengths (crop or zero-pad the input); empty keeps the
// input's. axes empty: the last len(s) axes (or all). norm: "backward",
// "ortho" or "forward".
array fft(const array& a, std::optional<int> n = {}, int axis = -1, const std::string& norm = "backward", S s = {});
array ifft(const array& a, std::optional<int> n = {}, int axis = -1, const std::string& norm = "backward", S s = {});
array rfft(const array& a, std::optional<int> n = {}, int axis = -1, const std::string& norm = "backward", S s = {});
array irfft(const array& a, std::optional<int> n = {}, int axis = -1, const std::string& norm = "backward", S s = {});
array fftn(const array& a, const std::optional<Shape>& sizes = {}, const std::optional<std::vector<int>>& axes = {},
           const std::string& norm = "backward", S s = {});
array ifftn(const array& a, const std::optional<Shape>& sizes = {}, const std::optional<std::vector<int>>& axes = {},
            const std::string& norm = "backward", S s = {});
array rfftn(const array& a, const std::optional<Shape>& sizes = {}, const std::optional<std::vector<int>>& axes = {},
            const std::string& norm = "backward", S s = {});
array irfftn(const array& a, const std::optional<Shape>& sizes = {}, const std::optional<std::vector<int>>& axes = {},
             const std::string& norm = "backward", S s = {});
array fftfreq(int n, double d = 1.0, S s = {});
array rfftfreq(int n, double d = 1.0, S s = {});
array fftshift(const array& a, const std::optional<std::vector<int>>& axes = {}, S s = {});
array ifftshift(const array& a, const std::optional<std::vector<int>>& axes = {}, S s = {});

// Short-time transforms (ops/stft.cpp): stft gives (..., n_freq, n_frames);
// istft inverts it by windowed overlap-add normalised by the window envelope.
array stft(const array& x, int n_fft = 2048, std::optional<int> hop_length = {}, std::optional<int> win_length = {},
           const std::optional<array>& window = {}, bool center = true, const std::string& pad_mode = "reflect",
           const std::string& norm = "backward", std::optional<bool> onesided = {}, S s = {});
array istft(const array& stft_matrix, std::optional<int> n_fft = {}, std::optional<int> hop_length = {},
            std::optional<int> win_length = {}, const std::optional<array>& window = {}, bool center = true,
            const std::string& norm = "backward", std::optional<bool> onesided = {}, std::optional<int> length = {},
            S s = {});

}  // namespace lmx::fft
