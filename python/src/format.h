// MLX-style repr of arrays: array([1, 2], dtype=int32).
#pragma once

#include <string>

#include "lmx/lmx.h"

namespace lmx::py {
std::string format_array(array& a);  // evaluates a
}
