// Unified memory on the GPU: device memory from the stream-ordered pool
// (cudaMallocAsync) behind a size-bucketed cache of freed buffers, feeding
// the core's memory statistics; and the lazy host<->device moves of each
// Data's bytes (see Data in array.h).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>
#include <stdexcept>
#include <string>

#include "lmx/backend/common/layout.h"
#include "lmx/backend/cuda/cuda.h"
#include "lmx/runtime/allocator.h"
#include "lmx/runtime/gpu.h"

namespace lmx {

namespace cu {

namespace {

// Residency changes of any Data happen under one lock: two CPU workers may
// fetch the same device buffer at once.
std::mutex& residency_mu() {
  static auto* m = new std::mutex();
  return *m;
}

cudaMemPool_t pool() {
  static cudaMemPool_t p = [] {
    cudaMemPool_t mp;
    LMX_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&mp, 0));
    return mp;
  }();
  return p;
}

// Queues on st a wait for everything queued on prev so far.
void order_after(cudaStream_t st, cudaStream_t prev) {
  cudaEvent_t ev;
  LMX_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
  LMX_CUDA_CHECK(cudaEventRecord(ev, prev));
  LMX_CUDA_CHECK(cudaStreamWaitEvent(st, ev, 0));
  cudaEventDestroy(ev);
}

// Freed device buffers kept for reuse, as the CPU allocator keeps host ones.
// A buffer freed on one stream may still be read by that stream's queued
// kernels. Reuse on the same stream is ordered after them by the stream
// itself, with no CUDA call at all (the common case: a decode step frees and
// reuses hundreds of buffers); reuse on another stream first waits for
// everything the freeing stream has queued so far, which includes them. No
// CUDA call touches a stream while it is being captured into a CUDA graph:
// reuse from another stream is refused then, and frees past the cache limit
// wait in the cache until trim_cache() at the end of the batch. bytes_ is the sum
// of the blocks' keys (a block is filed under the size it was freed with).
class DeviceCache {
 public:
  void* take(size_t n, cudaStream_t st) {
    Block b;
    size_t key = 0;
    {
      std::lock_guard lk(mu_);
      auto it = blocks_.lower_bound(n);
      if (it == blocks_.end() || it->first > n + n / 4) return nullptr;
      // Among buffers of this size, one freed on st needs no ordering.
      auto same = it;
      for (; same != blocks_.end() && same->first == it->first && same->second.stream != st; ++same) {
      }
      if (same != blocks_.end() && same->first == it->first) it = same;
      // A wait on another stream cannot be recorded: a capture takes a fresh
      // buffer instead (the miss ends the capture's segment).
      if (it->second.stream != st && capturing_here(st)) return nullptr;
      b = it->second;
      key = it->first;
      blocks_.erase(it);
      bytes_ -= key;
    }
    if (b.stream != st) {
      auto idle = lock_if_idle(b.stream);
      if (!idle) {  // its worker is capturing: nothing can be queued on that stream now
        put(b.ptr, key, b.stream);
        return nullptr;
      }
      order_after(st, b.stream);
    }
    return b.ptr;
  }
  void put(void* p, size_t n, cudaStream_t st) {
    if (bytes() + n > detail::cache_limit()) {
      // A free cannot be recorded in a capture: while st is being captured
      // the buffer stays cached, past the limit, until trim_cache().
      if (auto idle = lock_if_idle(st)) {
        if (cudaFreeAsync(p, st) != cudaSuccess) cudaGetLastError();  // at exit the runtime may be gone
        return;
      }
    }
    std::lock_guard lk(mu_);
    blocks_.emplace(n, Block{p, st});
    bytes_ += n;
  }
  // Hands cached buffers back to the pool until at most `keep` bytes stay
  // (but not those of streams being captured); returns the streams they
  // were freed on. clear_cache releases everything; trim_cache goes back
  // to the cache limit.
  std::vector<cudaStream_t> release(size_t keep) {
    std::lock_guard lk(mu_);
    std::vector<cudaStream_t> streams;
    for (auto it = blocks_.begin(); bytes_ > keep && it != blocks_.end();) {
      auto idle = lock_if_idle(it->second.stream);
      if (!idle) {
        ++it;
        continue;
      }
      if (cudaFreeAsync(it->second.ptr, it->second.stream) != cudaSuccess) cudaGetLastError();
      if (std::find(streams.begin(), streams.end(), it->second.stream) == streams.end())
        streams.push_back(it->second.stream);
      bytes_ -= it->first;
      it = blocks_.erase(it);
    }
    return streams;
  }
  size_t bytes() {
    std::lock_guard lk(mu_);
    return bytes_;
  }

 private:
  struct Block {
    void* ptr;
    cudaStream_t stream;
  };
  std::mutex mu_;
  std::multimap<size_t, Block> blocks_;
  size_t bytes_ = 0;
};

// Host-to-device copies up to 1 MiB (past kMaxParamCopy, which travels in
// kernel arguments) go through a ring of pinned memory. A copy from pageable
// memory makes the CUDA stream drain first, which would stall the GPU on
// every host-made array (a mask, a position table) during a
// decode step; from pinned memory the copy is queued like a kernel. Each
// copy's region stays reserved until the event recorded after it completes.
class PinnedStaging {
 public:
  static constexpr size_t kRingBytes = size_t{16} << 20, kMaxCopy = size_t{1} << 20;

  // False (nothing done) when the copy is too large or no pinned memory is to be had.
  bool copy(void* dst, const void* src, size_t n, cudaStream_t st) {
    if (n > kMaxCopy) return false;
    std::lock_guard lk(mu_);
    if (!ring_ && !disabled_) {
      if (cudaHostAlloc(reinterpret_cast<void**>(&ring_), kRingBytes, cudaHostAllocDefault) != cudaSuccess) {
        cudaGetLastError();
        ring_ = nullptr;
        disabled_ = true;
      }
    }
    if (!ring_) return false;
    size_t start = (head_ + 255) / 256 * 256;
    if (start + n > kRingBytes) start = 0;
    reclaim(start, start + n);
    std::memcpy(ring_ + start, src, n);
    LMX_CUDA_CHECK(cudaMemcpyAsync(dst, ring_ + start, n, cudaMemcpyHostToDevice, st));
    cudaEvent_t ev = spare_event();
    LMX_CUDA_CHECK(cudaEventRecord(ev, st));
    pending_.push_back({start, start + n, ev});
    head_ = start + n;
    return true;
  }

 private:
  struct Region {
    size_t begin, end;
    cudaEvent_t done;
  };

  // Frees the regions whose copies have finished, oldest first (one stream's
  // copies finish in order; the first unfinished one ends the scan), then
  // waits for any still pending that overlap [begin, end).
  void reclaim(size_t begin, size_t end) {
    size_t done = 0;
    while (done < pending_.size() && cudaEventQuery(pending_[done].done) == cudaSuccess) ++done;
    cudaGetLastError();  // cudaErrorNotReady is not an error here
    for (size_t i = 0; i < done; ++i) events_.push_back(pending_[i].done);
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(done));
    for (size_t i = 0; i < pending_.size();) {
      Region& r = pending_[i];
      if (r.begin < end && begin < r.end) {
        LMX_CUDA_CHECK(cudaEventSynchronize(r.done));
        events_.push_back(r.done);
        pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
  cudaEvent_t spare_event() {
    if (!events_.empty()) {
      cudaEvent_t e = events_.back();
      events_.pop_back();
      return e;
    }
    cudaEvent_t e;
    LMX_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    return e;
  }

  std::mutex mu_;
  char* ring_ = nullptr;
  bool disabled_ = false;
  size_t head_ = 0;
  std::vector<Region> pending_;
  std::vector<cudaEvent_t> events_;
};

PinnedStaging& staging() {
  static auto* s = new PinnedStaging();  // never destroyed, like the cache
  return *s;
}

DeviceCache& cache() {
  static auto* c = new DeviceCache();  // never destroyed: arrays may outlive statics
  return *c;
}

}  // namespace

void trim_cache() { cache().release(detail::cache_limit()); }

namespace {

// Orders `st` after the work another stream queued on the same bytes.
void follow(cudaStream_t st, void* other) {
  auto prev = static_cast<cudaStream_t>(other);
  if (!prev || prev == st) return;
  pause_capture(st, "wait on another stream");
  // prev's worker may be capturing a segment that writes these bytes (an
  // upload of a host array) or still reads them: wait for it to be launched,
  // then order st after it. (No lock is held here that its capture needs.)
  auto idle = lock_when_idle(prev);
  order_after(st, prev);
}

std::shared_ptr<Data> device_data(size_t bytes, cudaStream_t st) {
  auto d = std::make_shared<Data>(Buffer{});
  d->nbytes = bytes;
  d->device_ptr = device_malloc(bytes, st);
  d->device_stream = st;
  d->device_writer = batch_writing(st);
  d->residency.store(Data::kOnDevice, std::memory_order_release);
  return d;
}

}  // namespace

namespace {

// n bytes from the pool, ordered on st.
void* pool_allocate(size_t n, cudaStream_t st) {
  void* p = nullptr;
  cudaError_t err = cudaMallocFromPoolAsync(&p, n, pool(), st);
  if (err == cudaErrorMemoryAllocation) {
    // Give the cached buffers back to the driver and try once more.
    cudaGetLastError();
    gpu::clear_cache();
    err = cudaMallocFromPoolAsync(&p, n, pool(), st);
  }
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error("[malloc] Unable to allocate " + std::to_string(n) +
                             " bytes on the GPU: " + cudaGetErrorString(err));
  }
  return p;
}

thread_local StepMemory* tl_step_memory = nullptr;

}  // namespace

StepMemory::~StepMemory() {
  for (auto& [n, p] : free_) cache().put(p, n, st_);
}

bool StepMemory::owns(const void* p) const {
  auto a = reinterpret_cast<uintptr_t>(p);
  auto it = handed_out_.upper_bound(a);
  if (it == handed_out_.begin()) return false;
  --it;
  return a < it->first + it->second;
}

StepMemory::Scope::Scope(StepMemory& m) : previous_(tl_step_memory) { tl_step_memory = &m; }
StepMemory::Scope::~Scope() { tl_step_memory = previous_; }

StepMemory* StepMemory::active(cudaStream_t st) {
  return tl_step_memory && tl_step_memory->st_ == st ? tl_step_memory : nullptr;
}

void* StepMemory::allocate(size_t n) {
  // Reuse within the step is ordered by the graph as by the stream.
  auto it = free_.lower_bound(n);
  if (it != free_.end() && it->first <= n + n / 4) {
    void* p = it->second;
    free_.erase(it);
    return p;
  }
  // Memory a recording holds stays out of everyone else's reach for as long
  // as the compiled function lives; a step needing more is not recorded, nor
  // is one the pool cannot serve (the nodes run one by one instead).
  if (bytes_ + n > kMaxBytes) pause_capture(st_, "a recording past its memory limit");
  void* p = cache().take(n, st_);
  if (!p) {
    cudaStream_t aside = transfer_stream();
    try {
      p = pool_allocate(n, aside);
    } catch (const std::runtime_error&) {
      pause_capture(st_, "a recording the pool cannot serve");
      throw;
    }
    // Usable on st_ once allocated: a wait on the transfer stream could not
    // be recorded, so the host waits instead (recording happens once).
    if (cudaError_t err = cudaStreamSynchronize(aside); err != cudaSuccess) {
      cudaFreeAsync(p, aside);
      throw_cuda_error("allocating a compiled step's memory", err);
    }
  }
  handed_out_[reinterpret_cast<uintptr_t>(p)] = n;
  bytes_ += n;
  return p;
}

void StepMemory::free(void* p, size_t n) { free_.emplace(n, p); }

void* device_malloc(size_t bytes, cudaStream_t st) {
  if (bytes == 0) return nullptr;
  size_t n = detail::bucket_size(bytes);
  void* p;
  if (StepMemory* step = StepMemory::active(st)) {
    p = step->allocate(n);
  } else if (!(p = cache().take(n, st))) {
    pause_capture(st, "allocation from the pool");
    p = pool_allocate(n, st);
  }
  detail::note_device_alloc(n);
  return p;
}

void device_free(void* ptr, size_t bytes, cudaStream_t st) {
  if (!ptr) return;
  size_t n = detail::bucket_size(bytes);
  detail::note_device_free(n);
  if (StepMemory* step = StepMemory::active(st)) {
    step->free(ptr, n);
    return;
  }
  cache().put(ptr, n, st);
}

const void* device_read(const array& a, cudaStream_t st) {
  Data& d = *a.data_shared_ptr();
  if (!d.on_device()) {
    std::lock_guard lk(residency_mu());
    if (!d.on_device()) {
      if (!d.device_ptr) d.device_ptr = device_malloc(d.nbytes, st);
      if (d.nbytes <= kMaxParamCopy) {
        copy_host_bytes(d.device_ptr, d.buffer.ptr, d.nbytes, st);
      } else {
        pause_capture(st, "copy from host memory");
        if (!staging().copy(d.device_ptr, d.buffer.ptr, d.nbytes, st))
          LMX_CUDA_CHECK(cudaMemcpyAsync(d.device_ptr, d.buffer.ptr, d.nbytes, cudaMemcpyHostToDevice, st));
      }
      d.device_stream = st;
      d.residency.fetch_or(Data::kOnDevice, std::memory_order_acq_rel);
    }
  } else {
    follow(st, d.device_stream);
    d.device_stream = st;
  }
  return static_cast<const char*>(d.device_ptr) + a.offset_bytes();
}

void allocate(array& out, cudaStream_t st) { out.set_data(device_data(out.nbytes(), st)); }

void allocate_strided(array& out, const Strides& strides, cudaStream_t st) {
  out.set_data(device_data(out.nbytes(), st), out.size(), strides, layout_flags(out.shape(), strides, true));
}

void allocate_like(const array& like, array& out, cudaStream_t st, bool may_donate) {
  if (may_donate && like.is_donatable() && like.itemsize() == out.itemsize() && like.data_shared_ptr()->on_device()) {
    out.copy_shared_buffer(like);
    Data& d = *out.data_shared_ptr();
    d.residency.store(Data::kOnDevice, std::memory_order_release);  // the host copy goes stale
    d.device_writer = batch_writing(st);
    return;
  }
  if (like.flags().contiguous && like.data_size() == like.size()) {
    out.set_data(device_data(like.data_size() * out.itemsize(), st), like.data_size(), like.strides(), like.flags());
  } else {
    allocate(out, st);
  }
}

}  // namespace cu

namespace gpu {

// Waits for the bytes' writer (outside the residency lock, which the workers
// need meanwhile). The bytes are then final, so the copy goes through lmx's
// transfer stream whatever the writing stream is doing (another thread may
// be capturing it).
void copy_to_host(Data& d) {
  if (d.on_host()) return;
  wait_for_writer(d);
  std::lock_guard lk(cu::residency_mu());
  if (d.on_host()) return;
  if (!d.buffer.ptr && d.nbytes) d.buffer = cpu_allocator().malloc(d.nbytes);
  if (d.nbytes) {
    cudaStream_t transfer = cu::transfer_stream();
    LMX_CUDA_CHECK(cudaMemcpyAsync(d.buffer.ptr, d.device_ptr, d.nbytes, cudaMemcpyDeviceToHost, transfer));
    LMX_CUDA_CHECK(cudaStreamSynchronize(transfer));
  }
  d.residency.fetch_or(Data::kOnHost, std::memory_order_acq_rel);
}

void release_device(Data& d) {
  cu::device_free(d.device_ptr, d.nbytes, static_cast<cudaStream_t>(d.device_stream));
  d.device_ptr = nullptr;
}

const void* device_address(const array& a, const Stream& s) { return cu::device_read(a, cu::stream_of(s)); }

void copy_on_device(void* dst, const void* src, size_t n, const Stream& s) {
  if (n) LMX_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, cu::stream_of(s)));
}

std::shared_ptr<Data> device_buffer(size_t n, const Stream& s) { return cu::device_data(n, cu::stream_of(s)); }

void mark_device_written(Data& d, const Stream& s) {
  cudaStream_t st = cu::stream_of(s);
  d.device_stream = st;
  d.device_writer = cu::batch_writing(st);
  d.residency.store(Data::kOnDevice, std::memory_order_release);
}

size_t cache_memory() { return is_available() ? cu::cache().bytes() : 0; }

void clear_cache() {
  if (!is_available()) return;
  // The frees complete before the pool can give their memory back.
  for (cudaStream_t st : cu::cache().release(0))
    if (auto idle = cu::lock_if_idle(st)) LMX_CUDA_CHECK(cudaStreamSynchronize(st));
  LMX_CUDA_CHECK(cudaMemPoolTrimTo(cu::pool(), 0));
}

}  // namespace gpu
}  // namespace lmx
