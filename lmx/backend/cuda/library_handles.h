// The CUDA libraries' handles (cuSOLVER, cuBLAS, cuDNN) carry the stream
// their calls go to: one handle per CUDA stream, made on first use and never
// freed, as the streams.
#pragma once

#include <cuda_runtime.h>

#include <map>
#include <mutex>

namespace lmx::cu {

// The handle kept for st; `create(st)` makes one bound to st (or throws, and
// nothing is kept). Each handle type has its own table.
template <typename Handle, typename Create>
Handle handle_per_stream(cudaStream_t st, Create create) {
  static std::mutex mu;
  static auto* handles = new std::map<cudaStream_t, Handle>();  // never destroyed: workers may run at exit
  std::lock_guard lk(mu);
  if (auto it = handles->find(st); it != handles->end()) return it->second;
  Handle h = create(st);
  handles->emplace(st, h);
  return h;
}

}  // namespace lmx::cu
