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

}  // namespace lmx::fft
