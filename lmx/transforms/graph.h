// Graph walks shared by the transforms.
#pragma once

#include <functional>
#include <vector>

#include "lmx/array.h"

namespace lmx::detail {

// Nodes reachable from the outputs through nodes `include` accepts, inputs
// before their users (iterative depth-first search: graph depth is
// unbounded). Outputs are visited last to first, so in a backward pass each
// gradient comes right after its cotangent.
std::vector<array> graph_tape(const std::vector<array>& outputs,
                              const std::function<bool(const array&)>& include);
// All lazy nodes (those with a primitive).
std::vector<array> graph_tape(const std::vector<array>& outputs);

}  // namespace lmx::detail
