#include "lmx/runtime/allocator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "lmx/runtime/gpu.h"

namespace lmx {

// Sizes are rounded up so that freed buffers of nearby sizes can be reused:
// small ones to 16 bytes, larger ones to a multiple of 1/8 of their power of two.
size_t detail::bucket_size(size_t n) {
  if (n <= 256) return (n + 15) & ~size_t{15};
  size_t p = size_t{1} << (63 - __builtin_clzll(n));
  size_t step = p / 8;
  return (n + step - 1) / step * step;
}

namespace {

using detail::bucket_size;

// Fresh buffers of at least this many bytes ask the kernel for transparent
// huge pages (where it hands them out on request, as Debian's default
// "madvise" mode does). A decode step streams ~100 MB of weights; from 4 KiB
// pages, a matrix-vector kernel ran about 30% slower cold than warm, and
// within ~5% on 2 MiB pages, whose TLB entries cover the whole stream.
constexpr size_t kHugePageBytes = size_t{2} << 20;
constexpr size_t kHugePageMinBuffer = size_t{4} << 20;

// Advises huge pages for the 2 MiB-aligned interior of a fresh buffer (its
// edges share pages with other allocations). Only advice: a kernel that
// declines leaves the buffer as it was.
void advise_huge_pages(void* p, size_t n) {
  if (n < kHugePageMinBuffer) return;
  auto begin = (reinterpret_cast<uintptr_t>(p) + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  auto end = (reinterpret_cast<uintptr_t>(p) + n) & ~(kHugePageBytes - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

size_t physical_memory() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page)
                               : size_t{8} << 30;
}


class CpuAllocator final : public Allocator {
 public:
  CpuAllocator() : memory_limit_(physical_memory()), cache_limit_(physical_memory()) {}

  Buffer malloc(size_t size) override {
    if (size == 0) return {};
    size_t n = bucket_size(size);
    std::unique_lock lk(mu_);
    if (auto it = cache_.lower_bound(n); it != cache_.end() && it->first <= n + n / 4) {
      Buffer b{it->second, it->first};
      cache_.erase(it);
      cache_bytes_ -= b.size;
      add_active(b.size);
      return b;
    }
    // A request that cannot fit in memory at all is refused up front: the
    // kernel would otherwise hand out address space that faults on first touch.
    if (n > 2 * physical_memory()) {
      throw std::runtime_error("[malloc] Unable to allocate " + std::to_string(size) +
                               " bytes: larger than the machine's memory.");
    }
    void* p = std::aligned_alloc(64, (n + 63) & ~size_t{63});
    if (!p && cache_bytes_ > 0) {
      release_cache(0);
      p = std::aligned_alloc(64, (n + 63) & ~size_t{63});
    }
    if (!p) throw std::runtime_error("[malloc] Unable to allocate " + std::to_string(size) + " bytes.");
    advise_huge_pages(p, n);
    add_active(n);
    return {p, n};
  }

  void free(Buffer b) override {
    if (!b.ptr) return;
    std::unique_lock lk(mu_);
    active_ -= b.size;
    if (cache_bytes_ + b.size <= cache_limit_) {
      cache_.emplace(b.size, b.ptr);
      cache_bytes_ += b.size;
    } else {
      std::free(b.ptr);
    }
  }

  void note_device_alloc(size_t n) { std::unique_lock lk(mu_); add_active(n); }
  void note_device_free(size_t n) { std::unique_lock lk(mu_); active_ -= n; }
  size_t active() { std::unique_lock lk(mu_); return active_; }
  size_t peak() { std::unique_lock lk(mu_); return peak_; }
  void reset_peak() { std::unique_lock lk(mu_); peak_ = active_; }
  size_t cache() { std::unique_lock lk(mu_); return cache_bytes_; }
  size_t set_memory_limit(size_t l) { std::unique_lock lk(mu_); std::swap(l, memory_limit_); return l; }
  size_t memory_limit() { std::unique_lock lk(mu_); return memory_limit_; }
  size_t cache_limit() { std::unique_lock lk(mu_); return cache_limit_; }
  size_t set_cache_limit(size_t l) {
    std::unique_lock lk(mu_);
    std::swap(l, cache_limit_);
    release_cache(cache_limit_);
    return l;
  }
  void clear() { std::unique_lock lk(mu_); release_cache(0); }

 private:
  void add_active(size_t n) {
    active_ += n;
    if (active_ > peak_) peak_ = active_;
  }
  // Frees cached buffers, largest first, until the cache holds at most `keep` bytes.
  void release_cache(size_t keep) {
    while (cache_bytes_ > keep && !cache_.empty()) {
      auto it = std::prev(cache_.end());
      cache_bytes_ -= it->first;
      std::free(it->second);
      cache_.erase(it);
    }
  }

  std::mutex mu_;
  std::multimap<size_t, void*> cache_;
  size_t cache_bytes_ = 0, active_ = 0, peak_ = 0;
  size_t memory_limit_, cache_limit_;
};

CpuAllocator& cpu_impl() {
  static auto* a = new CpuAllocator();  // never destroyed: arrays may outlive statics
  return *a;
}

}  // namespace

Allocator& cpu_allocator() { return cpu_impl(); }
size_t get_active_memory() { return cpu_impl().active(); }
size_t get_peak_memory() { return cpu_impl().peak(); }
void reset_peak_memory() { cpu_impl().reset_peak(); }
size_t get_cache_memory() { return cpu_impl().cache() + gpu::cache_memory(); }
size_t set_memory_limit(size_t l) { return cpu_impl().set_memory_limit(l); }
size_t get_memory_limit() { return cpu_impl().memory_limit(); }
size_t set_cache_limit(size_t l) {
  size_t previous = cpu_impl().set_cache_limit(l);
  if (gpu::cache_memory() > l) gpu::clear_cache();
  return previous;
}
size_t detail::cache_limit() { return cpu_impl().cache_limit(); }
void clear_cache() {
  cpu_impl().clear();
  gpu::clear_cache();
}
void detail::note_device_alloc(size_t bytes) { cpu_impl().note_device_alloc(bytes); }
void detail::note_device_free(size_t bytes) { cpu_impl().note_device_free(bytes); }

}  // namespace lmx
