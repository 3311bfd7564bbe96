// Vectorising a function over an axis of its inputs.
#pragma once

#include <vector>

#include "lmx/transforms/autodiff.h"

namespace lmx {

// fun applied to every slice along in_axes[i] of inputs[i] (-1: the input
// is shared by all slices), with the results stacked along out_axes[j]
// (negative values count from the end of each output).
std::vector<array> vmap(const ArrayFn& fun, const std::vector<array>& inputs, const std::vector<int>& in_axes,
                        const std::vector<int>& out_axes);

}  // namespace lmx
