#include "lmx/runtime/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace lmx {

namespace {

// Below this many element-operations a second thread costs more to wake
// than it saves (measured on the 2-core dev VM: an add of 1e5 floats is
// faster on one thread).
constexpr size_t kMinParallelWork = 1 << 18;

// True on the pool's own threads: a parallel_for nested in another runs
// inline there, since waiting for jobs queued behind the waiting worker
// itself could deadlock the pool.
thread_local bool on_pool_thread = false;

class ThreadPool {
 public:
  explicit ThreadPool(int n) {
    for (int i = 0; i < n; ++i) workers_.emplace_back([this] { loop(); });
    for (auto& w : workers_) w.detach();  // the pool lives until process exit
  }
  int size() const { return static_cast<int>(workers_.size()); }
  void submit(std::function<void()> job) {
    {
      std::lock_guard lk(mu_);
      jobs_.push_back(std::move(job));
      pending_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_one();
  }

 private:
  void loop() {
    on_pool_thread = true;
    while (true) {
      std::function<void()> job;
      // Kernels come in bursts (one parallel_for per op of a graph): look for
      // the next job briefly before sleeping, which costs tens of microseconds.
      for (int i = 0; i < 2000 && pending_.load(std::memory_order_acquire) == 0; ++i)
        if (i > 200) std::this_thread::yield();
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
        pending_.fetch_sub(1, std::memory_order_relaxed);
      }
      job();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::atomic<size_t> pending_{0};
  std::vector<std::thread> workers_;
};

int configured_threads() {
  if (const char* env = std::getenv("LMX_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool& pool() {
  static auto* p = new ThreadPool(configured_threads() - 1);
  return *p;
}

}  // namespace

int kernel_threads() { return pool().size() + 1; }

void parallel_for(size_t n, size_t cost_per_item, const std::function<void(size_t, size_t)>& fn) {
  size_t work = n * std::max<size_t>(cost_per_item, 1);
  int threads = kernel_threads();
  if (n < 2 || threads == 1 || work < kMinParallelWork || on_pool_thread) {
    if (n) fn(0, n);
    return;
  }
  size_t chunks = std::min<size_t>(threads, std::max<size_t>(1, work / kMinParallelWork));
  chunks = std::min(chunks, n);
  size_t per = (n + chunks - 1) / chunks;
  // `remaining`, `mu` and `cv` live on this stack frame: a job must finish
  // with them (decrement and notify under the lock) before this call can see
  // zero and return, or it would touch a destroyed mutex.
  // A chunk's exception is kept (the first one wins) and rethrown here once
  // every chunk is done: it must never unwind a pool thread.
  size_t remaining = chunks - 1;
  std::mutex mu;
  std::condition_variable cv;
  std::exception_ptr error;
  auto run_chunk = [&](size_t b, size_t e) {
    try {
      if (b < e) fn(b, e);
    } catch (...) {
      std::lock_guard lk(mu);
      if (!error) error = std::current_exception();
    }
  };
  for (size_t c = 1; c < chunks; ++c) {
    size_t b = c * per, e = std::min(n, b + per);
    pool().submit([&, b, e] {
      run_chunk(b, e);
      std::lock_guard lk(mu);
      if (--remaining == 0) cv.notify_one();
    });
  }
  run_chunk(0, std::min(n, per));
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return remaining == 0; });
  if (error) std::rethrow_exception(error);
}

}  // namespace lmx
