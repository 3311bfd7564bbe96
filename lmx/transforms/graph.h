// Graph walks shared by the transforms.
#pragma once

#include <vector>

#include "lmx/array.h"

namespace lmx::detail {

// Lazy nodes reachable from the outputs, inputs before their users
// (iterative depth-first search: graph depth is unbounded).
std::vector<array> graph_tape(const std::vector<array>& outputs);

}  // namespace lmx::detail
