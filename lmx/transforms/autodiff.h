// Reverse- and forward-mode differentiation of functions of arrays.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "lmx/array.h"

namespace lmx {

using ArrayFn = std::function<std::vector<array>(const std::vector<array>&)>;

// fun's outputs at primals, and the cotangents of the primals for the given
// output cotangents (one per output, same shapes). For complex values this is
// MLX's convention: a cotangent u maps to conj(u times the derivative), so the
// gradient of a real loss L(z) is dL/dx + i dL/dy.
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
// The reverse pass in the convention the primitives' rules are written in:
// u maps to u times the derivative, no conjugation (linear over the complex
// numbers, so jvp is its transpose). The public vjp and grad conjugate
// complex values on the way in and out. Rules that differentiate a function
// of their own use this one.
std::pair<std::vector<array>, std::vector<array>> vjp_bilinear(const ArrayFn& fun, const std::vector<array>& primals,
                                                               const std::vector<array>& cotangents);
// Complex arrays conjugated (invalid ones and the others as they are).
std::vector<array> conjugate_complex(std::vector<array> xs);

// True while jvp's rules are being applied: a custom_function then answers
// with its jvp rule (or its function's own derivative), never its vjp rule.
bool in_forward_mode();

// Marks the calling thread as calling a function that a transform (vjp, jvp,
// vmap) transforms: compiled calls then build the program's own nodes for
// it, not one step node whose rules would run the program a second time.
class TransformTrace {
 public:
  TransformTrace();
  ~TransformTrace();
  TransformTrace(const TransformTrace&) = delete;
  TransformTrace& operator=(const TransformTrace&) = delete;
};
bool in_transform_trace();
}  // namespace detail

}  // namespace lmx
