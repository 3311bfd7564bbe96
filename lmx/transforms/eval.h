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

}  // namespace lmx
