// Buffer allocation with a size-bucketed cache and MLX's memory statistics.
// Backends provide an Allocator; the CPU one lives in allocator.cpp, the CUDA
// one (device pool) in backend/cuda.
#pragma once

#include <cstddef>

namespace lmx {

struct Buffer {
  void* ptr = nullptr;
  size_t size = 0;
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Throws std::runtime_error when the memory cannot be had; never returns null
  // for a non-zero size.
  virtual Buffer malloc(size_t size) = 0;
  virtual void free(Buffer b) = 0;
};

Allocator& cpu_allocator();

// MLX's memory API, in bytes.
size_t get_active_memory();
size_t get_peak_memory();
void reset_peak_memory();
size_t get_cache_memory();
size_t set_memory_limit(size_t limit);  // returns the previous limit
size_t get_memory_limit();
size_t set_cache_limit(size_t limit);   // returns the previous limit
void clear_cache();

namespace detail {
// Size class of an allocation (every backend's cache buckets by it).
size_t bucket_size(size_t n);
// The cache limit every backend's buffer cache keeps to (set_cache_limit).
size_t cache_limit();
// Device allocations of a GPU backend count in the same statistics (one
// memory API for unified memory).
void note_device_alloc(size_t bytes);
void note_device_free(size_t bytes);
}  // namespace detail

}  // namespace lmx
