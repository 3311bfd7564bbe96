#include "lmx/runtime/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace lmx {

namespace {

// Below this many element-operations a second thread costs more to wake
// than it saves (measured on the 2-core dev VM: an add of 1e5 floats is
// faster on one thread).
constexpr size_t kMinParallelWork = 1 << 18;
// Chunks a parallel loop is cut into per thread, so that threads which start
// late or run slow share the work out evenly.
constexpr size_t kChunksPerThread = 4;

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

// One parallel_for's chunks, claimed one at a time by the calling thread and
// by pool threads until none is left. Claiming (rather than handing each
// thread a fixed share) means a pool thread that wakes late costs nothing:
// the caller has taken its chunks meanwhile. The job is shared with the pool
// threads' tasks, since such a task may start after the loop has returned;
// it then finds no chunk left and never touches the caller's `fn`.
struct ParallelJob {
  const std::function<void(size_t, size_t)>* fn;
  size_t n, per, chunks;
  std::atomic<size_t> next{0};  // the next unclaimed chunk
  std::atomic<size_t> done{0};  // chunks finished
  std::mutex mu;
  std::condition_variable cv;
  std::exception_ptr error;  // the first chunk's exception, rethrown by the caller

  // Runs chunks until none is left to claim.
  void run_chunks() {
    for (size_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;) {
      try {
        (*fn)(c * per, std::min(n, (c + 1) * per));
      } catch (...) {
        std::lock_guard lk(mu);
        if (!error) error = std::current_exception();
      }
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) {
        std::lock_guard lk(mu);  // the caller may be between its check and its wait
        cv.notify_all();
      }
    }
  }

  // Waits for every chunk: spinning first, since the last chunks end within
  // microseconds of the caller's own and a sleeping thread takes tens of
  // microseconds to wake on a VM (which made small parallel products slower
  // than single-threaded ones).
  void wait() {
    for (int i = 0; i < 20000; ++i) {
      if (done.load(std::memory_order_acquire) == chunks) return;
      if (i > 2000) std::this_thread::yield();
    }
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return done.load(std::memory_order_acquire) == chunks; });
  }
};

}  // namespace

int kernel_threads() { return pool().size() + 1; }

void parallel_for(size_t n, size_t cost_per_item, const std::function<void(size_t, size_t)>& fn) {
  size_t work = n * std::max<size_t>(cost_per_item, 1);
  int threads = kernel_threads();
  if (n < 2 || threads == 1 || work < kMinParallelWork || on_pool_thread) {
    if (n) fn(0, n);
    return;
  }
  auto job = std::make_shared<ParallelJob>();
  job->fn = &fn;
  job->n = n;
  job->chunks = std::min<size_t>(n, kChunksPerThread * threads);
  job->per = (n + job->chunks - 1) / job->chunks;
  job->chunks = (n + job->per - 1) / job->per;
  const int helpers = static_cast<int>(std::min<size_t>(threads - 1, job->chunks - 1));
  for (int t = 0; t < helpers; ++t) pool().submit([job] { job->run_chunks(); });
  job->run_chunks();
  job->wait();
  if (job->error) std::rethrow_exception(job->error);
}

std::vector<float> parallel_sum(size_t n, size_t cost_per_item, size_t size,
                                const std::function<void(size_t, size_t, float*)>& fn) {
  std::mutex mu;
  std::vector<std::pair<size_t, std::vector<float>>> parts;
  parallel_for(n, cost_per_item, [&](size_t begin, size_t end) {
    std::vector<float> sum(size, 0.0f);
    fn(begin, end, sum.data());
    std::lock_guard lk(mu);
    parts.emplace_back(begin, std::move(sum));
  });
  std::sort(parts.begin(), parts.end(), [](auto& a, auto& b) { return a.first < b.first; });
  std::vector<float> total(size, 0.0f);
  for (auto& [_, sum] : parts)
    for (size_t i = 0; i < size; ++i) total[i] += sum[i];
  return total;
}

}  // namespace lmx
