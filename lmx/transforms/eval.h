// Evaluation of lazy graphs.
#pragma once

#include <vector>

#include "lmx/array.h"

namespace lmx {

// Schedules every unevaluated node the outputs depend on, then waits for the
// outputs. Errors raised by a kernel are rethrown here.
void eval(std::vector<array> outputs);
// Schedules the same work and returns at once.
void async_eval(std::vector<array> outputs);

namespace detail {
// Evaluates `outputs` node by node on the calling thread, each on its own
// stream's device. For backends that run a primitive as a graph of other
// primitives from inside a stream's worker, which cannot wait on its own queue.
void eval_inline(const std::vector<array>& outputs);
}  // namespace detail

}  // namespace lmx
