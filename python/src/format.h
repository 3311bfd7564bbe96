// MLX-style repr of arrays: array([1, 2], dtype=int32).
#pragma once

#include <string>

#include "lmx/lmx.h"

namespace lmx::py {
std::string format_array(array& a);  // evaluates a
// The repr's float precision: digits after the point, or -1 for MLX's
// default of six significant digits (set_printoptions).
int get_print_precision();
void set_print_precision(int precision);
}
