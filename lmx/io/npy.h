// NumPy's .npy format (version 1.0/2.0 headers), the file format of
// mx.save / mx.load for single arrays.
#pragma once

#include <string>

#include "lmx/array.h"

namespace lmx::io {

// The complete .npy file contents for a (evaluated on demand).
std::string to_npy(array a);
// Parses .npy contents; `source` names the file in error messages.
array from_npy(const std::string& bytes, const std::string& source);

// Path variants; save appends ".npy" when the path lacks it.
void save_npy(std::string path, const array& a);
array load_npy(const std::string& path);

}  // namespace lmx::io
