// The CUDA device, its streams and the core's GPU interface (runtime/gpu.h).
#include <cuda_runtime.h>

#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "lmx/backend/cuda/cuda.h"
#include "lmx/runtime/env.h"
#include "lmx/runtime/gpu.h"

namespace lmx {

namespace cu {

void throw_cuda_error(const char* what, cudaError_t err) {
  if (err == cudaErrorMemoryAllocation) cudaGetLastError();  // not sticky: leave the context usable
  throw std::runtime_error(std::string("[cuda] ") + what + " failed: " + cudaGetErrorString(err));
}

namespace {

int probe_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

}  // namespace

const cudaDeviceProp& device_props() {
  static cudaDeviceProp props = [] {
    cudaDeviceProp p{};
    LMX_CUDA_CHECK(cudaGetDeviceProperties(&p, 0));
    return p;
  }();
  return props;
}

bool dependent_launch_enabled() {
  static const bool on = env_switch("LMX_CUDA_PDL", true, "cuda") && device_props().major >= 9;
  return on;
}

void launch_dependent(const void* kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t st, void** args) {
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid, cfg.blockDim = block, cfg.dynamicSmemBytes = smem, cfg.stream = st;
  cfg.attrs = &attr, cfg.numAttrs = dependent_launch_enabled() ? 1 : 0;
  LMX_CUDA_CHECK(cudaLaunchKernelExC(&cfg, kernel, args));
}

cudaStream_t stream_of(const Stream& s) {
  static std::mutex mu;
  static auto* streams = new std::unordered_map<int, cudaStream_t>();  // never destroyed
  std::lock_guard lk(mu);
  auto it = streams->find(s.index);
  if (it != streams->end()) return it->second;
  LMX_CUDA_CHECK(cudaSetDevice(0));
  cudaStream_t st;
  LMX_CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  streams->emplace(s.index, st);
  return st;
}

cudaStream_t transfer_stream() {
  static cudaStream_t st = [] {
    cudaStream_t s;
    LMX_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    return s;
  }();
  return st;
}

namespace {

DeviceError* host_error() {
  static DeviceError* e = [] {
    void* p = nullptr;
    LMX_CUDA_CHECK(cudaHostAlloc(&p, sizeof(DeviceError), cudaHostAllocMapped));
    std::memset(p, 0, sizeof(DeviceError));
    return static_cast<DeviceError*>(p);
  }();
  return e;
}

}  // namespace

void raise_device_error() {
  volatile DeviceError* e = host_error();
  if (e->code == 0) return;
  DeviceError seen{e->code, e->axis, e->index, e->size};
  e->code = 0;
  const char* op = "gather";
  switch (seen.code) {
    case kScatterIndex: op = "scatter"; break;
    case kScatterAddIndex: op = "scatter_add"; break;
    case kScatterProdIndex: op = "scatter_prod"; break;
    case kScatterMaxIndex: op = "scatter_max"; break;
    case kScatterMinIndex: op = "scatter_min"; break;
  }
  throw std::out_of_range(std::string("[") + op + "] Index " + std::to_string(seen.index) + " is out of bounds for axis " +
                          std::to_string(seen.axis) + " with size " + std::to_string(seen.size) + ".");
}

DeviceError* device_error() {
  static DeviceError* d = [] {
    void* p = nullptr;
    LMX_CUDA_CHECK(cudaHostGetDevicePointer(&p, host_error(), 0));
    return static_cast<DeviceError*>(p);
  }();
  return d;
}

}  // namespace cu

namespace gpu {

int device_count() {
  static int n = cu::probe_device_count();
  return n;
}

bool is_available() { return device_count() > 0; }

void finish(const Stream& s) {
  cu::finish_stream(cu::stream_of(s));
  cu::trim_cache();
  if (cu::synchronous_batches()) cu::raise_device_error();
}

// The batch that wrote the bytes, not all the stream has queued since: a
// decode loop reads token t while token t+1's kernels are being queued. When
// that batch is still running on this thread (a host fallback inside it reads
// what earlier nodes wrote) or unknown, the stream is drained instead.
void wait_for_writer(Data& d) {
  auto st = static_cast<cudaStream_t>(d.device_stream);
  cu::pause_capture(st, "read by the host");
  if (!cu::wait_for_batch(d.device_writer)) cu::drain_stream(st);
  cu::raise_device_error();
}

void synchronize(const Stream& s) {
  cu::drain_stream(cu::stream_of(s));
  cu::raise_device_error();
}

std::vector<std::pair<std::string, InfoValue>> device_info() {
  const auto& p = cu::device_props();
  size_t free_bytes = 0, total = 0;
  LMX_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  return {{"device_name", std::string(p.name)},
          {"architecture", "sm_" + std::to_string(p.major) + std::to_string(p.minor)},
          {"memory_size", total},
          {"free_memory", free_bytes},
          {"multiprocessor_count", static_cast<size_t>(p.multiProcessorCount)},
          {"max_buffer_length", total}};
}

}  // namespace gpu
}  // namespace lmx
