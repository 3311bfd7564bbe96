// What the core needs from a GPU backend. backend/cuda implements it when
// lmx is built with CUDA, backend/no_gpu otherwise, so nothing above the
// backends depends on CUDA.
#pragma once

#include <cstddef>
#include <cstdint>
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

// A GPU stream's worker brackets each batch of nodes it runs: begin_batch
// before the first (key fingerprints the batch's primitives, so a batch seen
// before can be replayed as a recorded CUDA graph), begin_node before each
// node, and finish after the last. finish blocks until every kernel queued
// on the stream has run, so an lmx event on a GPU stream means the device is
// done too; it throws when kernels of the batch were lost (a failed graph).
void begin_batch(const Stream& s, uint64_t key);
void begin_node(const Stream& s);
void finish(const Stream& s);

// Device memory that the backend keeps cached for reuse, and its release.
size_t cache_memory();
void clear_cache();

// mx.device_info() for the GPU: name, memory size, architecture.
using InfoValue = std::variant<std::string, size_t>;
std::vector<std::pair<std::string, InfoValue>> device_info();

}  // namespace gpu
}  // namespace lmx
