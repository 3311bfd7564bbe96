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
// node, and finish after the last. finish queues everything the batch
// recorded and marks the batch's end on the device, but does not wait for
// its kernels: the worker goes on to the next batch while the device runs
// this one (waiting there left the device idle while the host prepared the
// next). It throws when kernels of the batch were lost (a failed graph).
// So an lmx event on a GPU stream means the work is queued, and the bytes
// of a buffer are ready once its writer has run: wait_for_writer.
void begin_batch(const Stream& s, uint64_t key);
void begin_node(const Stream& s);
void finish(const Stream& s);

// Blocks until the kernels that last wrote d's device copy have run (eval
// returns only then, as in MLX), and raises an error a kernel reported (an
// index out of bounds). copy_to_host waits the same way.
void wait_for_writer(Data& d);
// Blocks until every kernel queued on the GPU stream s has run (and raises
// as wait_for_writer does).
void synchronize(const Stream& s);

// The backend runs Convolution nodes (primitives/conv.h) on its streams, in
// float32, float16 and bfloat16, with equal padding on both sides of each
// dim (CUDA: when built with cuDNN). Otherwise ops/conv.cpp builds GPU
// convolutions from windows and matrix products.
bool convolution_available();

// Device memory that the backend keeps cached for reuse, and its release.
size_t cache_memory();
void clear_cache();

// mx.device_info() for the GPU: name, memory size, architecture.
using InfoValue = std::variant<std::string, size_t>;
std::vector<std::pair<std::string, InfoValue>> device_info();

}  // namespace gpu
}  // namespace lmx
