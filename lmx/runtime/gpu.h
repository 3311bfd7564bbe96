// What the core needs from a GPU backend. backend/cuda implements it when
// lmx is built with CUDA, backend/no_gpu otherwise, so nothing above the
// backends depends on CUDA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "lmx/runtime/device.h"

namespace lmx {

struct Data;
class array;

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

// ---- a compiled function's whole call as one CUDA graph ----
// transforms/compile_step.cpp runs a compiled program's nodes inside one
// node and, once recorded, replays their kernels without running the
// primitives again: each primitive costs the host microseconds a call,
// while a decode step of an LLM is a thousand small kernels.
//
// A recording: the graph and the device memory its kernels use.
class StepGraph {
 public:
  virtual ~StepGraph() = default;
  // The device buffer at p was allocated while the step was recorded: it
  // belongs to the recording, and the graph writes it on every launch.
  virtual bool owns(const void* p) const = 0;
};
// Whether steps may be recorded (LMX_CUDA_STEP_GRAPHS, default on, and
// CUDA graphs not turned off with LMX_CUDA_GRAPHS=0).
bool step_graphs_enabled();
// Records what `run` queues on the GPU stream s into one CUDA graph without
// running any of it. Memory allocated on s meanwhile comes from the pool as
// usual, but what `run` frees stays reserved for the recording (it may be
// reused within the step), and buffers that outlive `run` must be kept by
// the caller as long as the recording lives: the graph holds their
// addresses. Returns null when something `run` does cannot be recorded (a
// wait for another stream, a read by the host, a library call that is never
// captured, more memory than a recording may hold); nothing `run` queued
// has run then. An exception from `run` propagates, the capture discarded.
std::unique_ptr<StepGraph> record_step(const Stream& s, const std::function<void()>& run);
// Queues on s the copies, then a recorded step's kernels.
struct DeviceCopy {
  void* dst;
  const void* src;
  size_t bytes;
};
void launch_step(StepGraph& step, const Stream& s, const std::vector<DeviceCopy>& copies_first);
// The device address of a's bytes, brought to the device for s (and s
// ordered after the stream that wrote them).
const void* device_address(const array& a, const Stream& s);
// Queues a copy of n device bytes on s.
void copy_on_device(void* dst, const void* src, size_t n, const Stream& s);
// A new device buffer of n bytes, to be written on s by the current batch.
std::shared_ptr<Data> device_buffer(size_t n, const Stream& s);
// d's device copy is being rewritten on s by the current batch: the host
// copy goes stale and readers wait for the batch.
void mark_device_written(Data& d, const Stream& s);

// Device memory that the backend keeps cached for reuse, and its release.
size_t cache_memory();
void clear_cache();

// mx.device_info() for the GPU: name, memory size, architecture.
using InfoValue = std::variant<std::string, size_t>;
std::vector<std::pair<std::string, InfoValue>> device_info();

}  // namespace gpu
}  // namespace lmx
