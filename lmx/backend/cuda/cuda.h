// Internals of the CUDA backend shared by its files: error checks, the CUDA
// stream behind each lmx GPU stream, and unified-memory access to arrays.
// Nothing outside backend/cuda includes this.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "lmx/array.h"

namespace lmx::cu {

[[noreturn]] void throw_cuda_error(const char* what, cudaError_t err);

#define LMX_CUDA_CHECK(expr)                                       \
  do {                                                             \
    cudaError_t lmx_err_ = (expr);                                 \
    if (lmx_err_ != cudaSuccess) ::lmx::cu::throw_cuda_error(#expr, lmx_err_); \
  } while (0)

// The CUDA stream that runs an lmx GPU stream's kernels (made on first use).
cudaStream_t stream_of(const Stream& s);
// A stream of lmx's own for device-to-host copies of finished results
// while the stream that wrote them is being captured.
cudaStream_t transfer_stream();
const cudaDeviceProp& device_props();
// LMX_GPU_STRICT=1: a primitive without a GPU kernel is an error instead
// of running on the host (or as separate kernels).
bool gpu_strict();

// Data-dependent errors found by kernels (an index out of bounds) are written
// here, in host-mapped memory, and raised by the next wait for the device
// (eval, a host read, synchronize) once the kernel has run.
struct DeviceError {
  int code;  // 0: none; otherwise which op found an index out of bounds
  int axis;
  long long index, size;
};
constexpr int kGatherIndex = 1, kScatterAddIndex = 2, kScatterIndex = 3, kScatterProdIndex = 4, kScatterMaxIndex = 5,
              kScatterMinIndex = 6;
DeviceError* device_error();  // the device's view of the record
// Throws (and clears) the error recorded there, if any.
void raise_device_error();

// ---- programmatic dependent launch (runtime.cpp, device_util.cuh) ----
// A kernel launched dependent (launch_dependent) may be started by the
// device while the kernel before it on the stream is still running, so that
// its launch and its blocks' start overlap that kernel's last blocks
// instead of following them (~0.6 us a kernel boundary in decode, where a
// token is ~550 small kernels). It must begin with pdl_begin()
// (device_util.cuh), before it touches memory: that waits until the kernel
// before has finished and its writes are visible, then lets the next kernel
// start, so only the kernel right before can still be running. On by
// default on sm_90 and newer; LMX_CUDA_PDL=0 launches every kernel after the
// one before.
bool dependent_launch_enabled();
// cudaLaunchKernelExC with the dependent-launch attribute where enabled.
void launch_dependent(const void* kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t st, void** args);

// ---- CUDA graphs (graph.cpp) ----
// With LMX_CUDA_GRAPHS=1, a batch of nodes that a stream's worker has run
// before is captured into CUDA graphs and launched segment by segment: on an
// H200 a plain launch costs ~2.8-3.7 us of host time, a captured one ~0.5
// (benchmarks/gpu_launch_cost.cu). A capture runs in segments. Whatever
// cannot be recorded (an allocation from the pool, a copy from pageable or
// staged host memory, a wait on another stream, a host read) first ends the
// segment in flight on its stream with pause_capture; the next node starts a
// new one. Other threads queue work on a stream only while it is not being
// captured (lock_if_idle). `why` names the reason in LMX_EVAL_PROFILE's
// report.
void pause_capture(cudaStream_t st, const char* why);
bool capturing_here(cudaStream_t st);  // this thread is capturing st
// A lock that keeps capture from starting on st, or an empty one when st is
// being captured (by any thread) and nothing may be queued on it now.
std::unique_lock<std::mutex> lock_if_idle(cudaStream_t st);
// The same lock, waiting until the segment being captured on st is launched
// (this thread's own capture of st is ended first).
std::unique_lock<std::mutex> lock_when_idle(cudaStream_t st);
// Frees cached device buffers past the cache limit (those kept while their
// stream was being captured), at the end of each batch.
void trim_cache();
// Ends the batch on st: launches what is being captured, records the
// batch's end (see batch_writing), and throws if a capture failed (its
// kernels never ran). With LMX_CUDA_SYNC=1 (synchronous_batches) it also
// waits for the batch's kernels.
void finish_stream(cudaStream_t st);
bool synchronous_batches();
// The record of the batch this thread is running on st (null outside one),
// to be kept in Data::device_writer by every buffer the batch writes.
std::shared_ptr<void> batch_writing(cudaStream_t st);
// Waits until the recorded batch has run on the device; false (without
// waiting) when it has not ended yet or there is no record: the caller
// must then wait for its stream (drain_stream).
bool wait_for_batch(const std::shared_ptr<void>& batch);
// Waits for everything queued on st, once no other thread is capturing it
// (this thread's own capture of st is ended first).
void drain_stream(cudaStream_t st);

// ---- unified memory (memory.cpp) ----
// Device address of a's first element; copies the bytes in once when only the
// host copy is current, and orders `st` after the stream that wrote them.
const void* device_read(const array& a, cudaStream_t st);
// Device address of an output that already has device-resident bytes.
inline void* device_write(array& a) {
  return static_cast<char*>(a.data_shared_ptr()->device_ptr) + a.offset_bytes();
}
// Copies n <= kMaxParamCopy host bytes to the device inside a kernel's
// arguments (copy.cu): queued like any kernel, and recorded by a capture.
constexpr size_t kMaxParamCopy = 256;
void copy_host_bytes(void* dst, const void* src, size_t n, cudaStream_t st);
// A fresh row-contiguous device buffer for out.
void allocate(array& out, cudaStream_t st);
// A fresh dense device buffer for out laid out with `strides` (a permutation
// of row-major order, so that a consumer's transpose is a view).
void allocate_strided(array& out, const Strides& strides, cudaStream_t st);
// A fresh device buffer laid out like the dense array `like`, or `like`'s own
// buffer when it may be donated (it must already be device-resident).
void allocate_like(const array& like, array& out, cudaStream_t st, bool may_donate);
// Raw device memory from the stream-ordered pool (counted in the memory API).
void* device_malloc(size_t bytes, cudaStream_t st);
void device_free(void* ptr, size_t bytes, cudaStream_t st);

// The device memory of a compiled step while it is recorded (see
// gpu::record_step). While a Scope is open on a thread, that thread's
// allocations on the step's stream take a block the recording freed, then
// one the cache holds for the stream, then a new one from the pool,
// allocated on the transfer stream (an allocation on the stream being
// captured would become part of the graph); its frees on that stream stay
// with the recording, so no one else is handed memory the graph writes.
// The blocks it still holds go back to the cache when it is destroyed.
class StepMemory {
 public:
  explicit StepMemory(cudaStream_t st) : st_(st) {}
  ~StepMemory();
  StepMemory(const StepMemory&) = delete;
  StepMemory& operator=(const StepMemory&) = delete;

  // p lies in a block handed out during the recording.
  bool owns(const void* p) const;
  // The most a recording may hand out (its blocks are reused within it).
  static constexpr size_t kMaxBytes = size_t{1} << 30;

  class Scope {
   public:
    explicit Scope(StepMemory& m);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    StepMemory* previous_;
  };
  // The memory of the scope open on this thread for st, if any.
  static StepMemory* active(cudaStream_t st);

  void* allocate(size_t n);  // n: a bucket size
  void free(void* p, size_t n);

 private:
  cudaStream_t st_;
  std::multimap<size_t, void*> free_;       // freed during the recording, by bucket size
  std::map<uintptr_t, size_t> handed_out_;  // every block handed out: start -> bucket size
  size_t bytes_ = 0;
};

// Device scratch memory for the kernels one launcher queues: freed (stream
// ordered, so after those kernels) when the launcher returns or throws.
class Scratch {
 public:
  Scratch(size_t bytes, cudaStream_t st) : bytes_(bytes), st_(st), p_(bytes ? device_malloc(bytes, st) : nullptr) {}
  ~Scratch() {
    if (p_) device_free(p_, bytes_, st_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(p_);
  }

 private:
  size_t bytes_;
  cudaStream_t st_;
  void* p_;
};

// ---- launches ----
constexpr int kThreads = 256;
inline unsigned blocks_for(int64_t work, int64_t per_block = kThreads) {
  int64_t b = (work + per_block - 1) / per_block;
  // Grid-stride kernels need no more than a few waves.
  int64_t cap = int64_t{device_props().multiProcessorCount} * 32;
  return static_cast<unsigned>(b < 1 ? 1 : b > cap ? cap : b);
}

// Strided addressing of up to kMaxDims collapsed dimensions, passed to
// kernels by value.
constexpr int kMaxDims = 8;
template <int N>
struct Layout {
  int ndim = 0;
  int64_t shape[kMaxDims];
  int64_t strides[N][kMaxDims];
};

}  // namespace lmx::cu
