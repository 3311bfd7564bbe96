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

class Primitive;

namespace detail {
// Evaluates `outputs` node by node on the calling thread, each on its own
// stream's device. For backends that run a primitive as a graph of other
// primitives from inside a stream's worker, which cannot wait on its own queue.
void eval_inline(const std::vector<array>& outputs);
// Runs a primitive's CPU kernel on the host copies of its inputs (fetched
// as needed) and marks any device copy of what it wrote as stale: how the
// CPU stream runs every node, and how a GPU stream runs a primitive that has
// no GPU kernel.
void eval_on_host(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs);
}  // namespace detail

}  // namespace lmx
