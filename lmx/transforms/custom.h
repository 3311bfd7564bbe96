// Functions with user-defined transformation rules, and checkpointing.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "lmx/transforms/autodiff.h"

namespace lmx {

// cotangents of the primals, from (primals, output cotangents, outputs).
using CustomVjpFn = std::function<std::vector<array>(const std::vector<array>&, const std::vector<array>&,
                                                     const std::vector<array>&)>;
// tangents of the outputs, from (primals, primal tangents).
using CustomJvpFn = std::function<std::vector<array>(const std::vector<array>&, const std::vector<array>&)>;
// (batched outputs, their mapped axes), from (inputs, mapped axes; -1 unmapped).
using CustomVmapFn =
    std::function<std::pair<std::vector<array>, std::vector<int>>(const std::vector<array>&, const std::vector<int>&)>;

// fun(primals), with the given rules replacing the derived ones (each may be
// empty). A jvp rule alone also gives the vjp (its transpose).
std::vector<array> custom_function(const ArrayFn& fun, const std::vector<array>& primals, CustomVjpFn vjp = {},
                                   CustomJvpFn jvp = {}, CustomVmapFn vmap = {});

// inputs, unchanged, but evaluated only after the dependencies.
std::vector<array> depends(const std::vector<array>& inputs, const std::vector<array>& dependencies);

// fun(primals), whose gradient recomputes fun instead of keeping its
// intermediate arrays alive until the backward pass.
std::vector<array> checkpoint(const ArrayFn& fun, const std::vector<array>& primals);

}  // namespace lmx
