// What the core needs from a GPU backend. backend/cuda implements it when
// lmx is built with CUDA, backend/no_gpu otherwise, so nothing above the
// backends depends on CUDA.
#pragma once

#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include "lmx/runtime/device.h"

namespace lmx {

struct Data;

namespace gpu {

// A GPU backend is compiled in and a device is present.
bool is_available();
int device_count();

// Unified memory (see Data in array.h).
void copy_to_host(Data& d);     // make the host copy current
void release_device(Data& d);   // free the device copy (from ~Data)

// Blocks until every kernel queued on this GPU stream has finished. Called
// at the end of each batch of work a stream's worker runs, so an lmx event
// on a GPU stream means the device is done too.
void finish(const Stream& s);

// Device memory that the backend keeps cached for reuse, and its release.
size_t cache_memory();
void clear_cache();

// mx.device_info() for the GPU: name, memory size, architecture.
using InfoValue = std::variant<std::string, size_t>;
std::vector<std::pair<std::string, InfoValue>> device_info();

}  // namespace gpu
}  // namespace lmx
