// The on-disk cache of kernels lmx compiles at run time (NVRTC cubins on the
// GPU, shared libraries of generated C++ on the CPU): where it is, and how
// a file gets there without another process ever reading half of it.
#pragma once

#include <filesystem>
#include <string>

namespace lmx {

// LMX_KERNEL_CACHE, else $XDG_CACHE_HOME/lmx/kernels, else
// ~/.cache/lmx/kernels; empty where none of them is set.
std::filesystem::path kernel_cache_root();

// A name beside `file` that no other process or thread writes at once.
std::filesystem::path temporary_sibling(const std::filesystem::path& file);

// Writes `bytes` to a temporary sibling and renames it to `file`; false
// (and nothing left behind) when that fails.
bool write_file_atomically(const std::filesystem::path& file, const std::string& bytes);

}  // namespace lmx
