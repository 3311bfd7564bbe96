#include "lmx/runtime/scheduler.h"

#include <stdexcept>
#include <vector>

#include "lmx/array.h"

namespace lmx {

StreamQueue::StreamQueue(Stream s) : stream(s), worker_([this] { run(); }) {}

StreamQueue::~StreamQueue() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  task_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

uint64_t StreamQueue::enqueue(std::function<void()> task) {
  uint64_t seq;
  {
    std::lock_guard lk(mu_);
    tasks_.push_back(std::move(task));
    queued_.fetch_add(1, std::memory_order_release);
    seq = ++submitted_;
  }
  task_cv_.notify_one();
  return seq;
}

bool StreamQueue::finished(uint64_t seq) const {
  return completed_.load(std::memory_order_acquire) >= seq;
}

void StreamQueue::wait_for(uint64_t seq) {
  // Most waits are for a few microseconds of work: spin briefly before
  // sleeping, since a sleeping thread takes tens of microseconds to wake.
  for (int i = 0; i < 2000; ++i) {
    if (finished(seq)) return;
    if (i > 200) std::this_thread::yield();
  }
  std::unique_lock lk(mu_);
  done_cv_.wait(lk, [&] { return finished(seq); });
}

uint64_t StreamQueue::claim_if_idle() {
  std::lock_guard lk(mu_);
  if (stop_ || claimed_ || worker_running_ || !tasks_.empty()) return 0;
  claimed_ = true;
  return ++submitted_;
}

void StreamQueue::complete_claimed() {
  bool wake_worker;
  {
    std::lock_guard lk(mu_);
    claimed_ = false;
    completed_.fetch_add(1, std::memory_order_release);
    wake_worker = !tasks_.empty();  // queued behind the claimed task meanwhile
  }
  done_cv_.notify_all();
  if (wake_worker) task_cv_.notify_one();
}

uint64_t StreamQueue::last_submitted() {
  std::lock_guard lk(mu_);
  return submitted_;
}

void StreamQueue::run() {
  while (true) {
    std::function<void()> task;
    // The next task often follows within microseconds (the next eval of a
    // loop): look for it briefly before sleeping on the condition variable.
    for (int i = 0; i < 2000 && queued_.load(std::memory_order_acquire) == 0; ++i)
      if (i > 200) std::this_thread::yield();
    {
      std::unique_lock lk(mu_);
      // A claimed task runs on its caller first: it holds the earlier sequence number.
      task_cv_.wait(lk, [&] { return !claimed_ && (stop_ || !tasks_.empty()); });
      if (tasks_.empty()) return;  // stopping and drained
      task = std::move(tasks_.front());
      tasks_.pop_front();
      queued_.fetch_sub(1, std::memory_order_relaxed);
      worker_running_ = true;
    }
    task();  // tasks catch their own errors and record them on their outputs
    task = nullptr;  // release the task's arrays before announcing completion
    {
      std::lock_guard lk(mu_);
      worker_running_ = false;
      completed_.fetch_add(1, std::memory_order_release);
    }
    done_cv_.notify_all();
  }
}

bool Event::done() const { return !queue || queue->finished(seq); }
void Event::wait() const {
  if (queue) queue->wait_for(seq);
}

namespace scheduler {

namespace {
std::mutex registry_mu;
// Queues live for the whole process; their workers are detached at exit
// by leaking the registry, so no task runs against destroyed statics.
struct Registry {
  std::vector<std::shared_ptr<StreamQueue>> queues;  // by stream index
  std::vector<char> retired;                         // clear_streams ran for the stream
};
Registry& registry() {
  static auto* r = new Registry();
  return *r;
}
}  // namespace

std::shared_ptr<StreamQueue> queue(const Stream& s) {
  check_stream(s, "eval");
  std::lock_guard lk(registry_mu);
  auto& r = registry();
  if (static_cast<size_t>(s.index) >= r.queues.size()) r.queues.resize(s.index + 1), r.retired.resize(s.index + 1);
  // Checked again under the lock: clear_streams may have run since.
  if (r.retired[s.index]) throw std::invalid_argument("[eval] " + to_string(s) + " was destroyed by clear_streams().");
  if (!r.queues[s.index]) r.queues[s.index] = std::make_shared<StreamQueue>(s);
  return r.queues[s.index];
}

void release(const Stream& s) {
  std::shared_ptr<StreamQueue> q;
  {
    std::lock_guard lk(registry_mu);
    auto& r = registry();
    if (static_cast<size_t>(s.index) >= r.queues.size()) r.queues.resize(s.index + 1), r.retired.resize(s.index + 1);
    r.retired[s.index] = 1;
    // Only a queue nothing else holds ends here, on this thread: one an
    // event or a task still holds stays (idle), so its worker never has
    // to join itself.
    if (r.queues[s.index].use_count() == 1) q = std::move(r.queues[s.index]);
  }
  // q's worker joins here, outside the registry lock.
}

std::vector<std::shared_ptr<StreamQueue>> all_queues() {
  std::lock_guard lk(registry_mu);
  std::vector<std::shared_ptr<StreamQueue>> out;
  for (auto& q : registry().queues)
    if (q) out.push_back(q);
  return out;
}

namespace {

// The deferred jobs' thread and queue. Never destroyed (like the registry):
// the thread is detached and may still be waiting for work at exit.
class Deferred {
 public:
  Deferred() { std::thread([this] { run(); }).detach(); }
  void submit(std::function<void()> job) {
    {
      std::lock_guard lk(mu_);
      jobs_.push_back(std::move(job));
      pending_.fetch_add(1, std::memory_order_acq_rel);
    }
    job_cv_.notify_one();
  }
  bool pending() const { return pending_.load(std::memory_order_acquire) != 0; }
  void wait() {
    if (!pending() || on_thread) return;
    std::unique_lock lk(mu_);
    idle_cv_.wait(lk, [&] { return !pending(); });
  }

 private:
  void run() {
    on_thread = true;
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock lk(mu_);
        job_cv_.wait(lk, [&] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      try {
        job();  // jobs record their own errors on their arrays
      } catch (...) {  // what a job could not record (no memory for it) has nowhere to go
      }
      job = nullptr;  // release what it held before it counts as done
      {
        std::lock_guard lk(mu_);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
      idle_cv_.notify_all();
    }
  }
  static thread_local bool on_thread;
  std::mutex mu_;
  std::condition_variable job_cv_, idle_cv_;
  std::deque<std::function<void()>> jobs_;
  std::atomic<size_t> pending_{0};  // submitted and not yet finished
};

thread_local bool Deferred::on_thread = false;

Deferred& deferred() {
  static auto* d = new Deferred();
  return *d;
}

}  // namespace

void defer(std::function<void()> job) { deferred().submit(std::move(job)); }

bool deferred_pending() { return deferred().pending(); }

void wait_for_deferred() { deferred().wait(); }

}  // namespace scheduler
}  // namespace lmx
