// Reverse- and forward-mode differentiation of functions of arrays.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "lmx/array.h"

namespace lmx {

using ArrayFn = std::function<std::vector<array>(const std::vector<array>&)>;

// fun's outputs at primals, and the cotangents of the primals for the given
// output cotangents (one per output, same shapes).
std::pair<std::vector<array>, std::vector<array>> vjp(const ArrayFn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents);

// fun's outputs at primals, and their tangents for the given input tangents.
// Computed as the transpose of the (linear) vjp, so every primitive with a
// vjp rule has a jvp.
std::pair<std::vector<array>, std::vector<array>> jvp(const ArrayFn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& tangents);

// fun must return one scalar first output: its value(s) and the gradients
// with respect to primals[argnums[i]] (inexact dtypes only).
std::pair<std::vector<array>, std::vector<array>> value_and_grad(const ArrayFn& fun,
                                                                 const std::vector<array>& primals,
                                                                 const std::vector<int>& argnums);

namespace detail {
// True while jvp's rules are being applied: a custom_function then answers
// with its jvp rule (or its function's own derivative), never its vjp rule.
bool in_forward_mode();
}  // namespace detail

}  // namespace lmx
