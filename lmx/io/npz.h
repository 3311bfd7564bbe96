// NumPy's .npz format: a zip archive of .npy files, one per named array
// (mx.savez, mx.savez_compressed, and mx.load of a .npz).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "lmx/array.h"

namespace lmx::io {

// The complete .npz contents; each array is stored as "<name>.npy".
std::string to_npz(const std::map<std::string, array>& arrays, bool compress);
std::map<std::string, array> from_npz(std::string_view bytes, const std::string& source);

// Path variants; save appends ".npz" when the path lacks it.
void save_npz(std::string path, const std::map<std::string, array>& arrays, bool compress);
std::map<std::string, array> load_npz(const std::string& path);

}  // namespace lmx::io
