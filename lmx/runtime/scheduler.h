// One in-order task queue with its own worker thread per stream.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "lmx/runtime/device.h"

namespace lmx {

struct StreamQueue {
  explicit StreamQueue(Stream s);
  ~StreamQueue();
  // Queues a task and returns its sequence number (1, 2, ...).
  uint64_t enqueue(std::function<void()> task);
  bool finished(uint64_t seq) const;
  void wait_for(uint64_t seq);
  uint64_t last_submitted();
  // A synchronous eval whose caller would only wait may run its last task
  // itself, skipping the hand-off to the worker and back (a few microseconds,
  // most of a small op's cost). claim_if_idle reserves the next sequence
  // number for such a task when nothing is queued or running, and holds the
  // worker off until complete_claimed; it returns 0 when the queue is busy,
  // and the task must then be enqueued as usual.
  uint64_t claim_if_idle();
  void complete_claimed();

  const Stream stream;

 private:
  void run();
  std::mutex mu_;
  std::condition_variable task_cv_, done_cv_;
  std::deque<std::function<void()>> tasks_;
  std::atomic<size_t> queued_{0};  // tasks_.size(), readable without the lock
  bool worker_running_ = false;    // the worker is running a task
  bool claimed_ = false;           // a caller is running a claimed task
  uint64_t submitted_ = 0;
  std::atomic<uint64_t> completed_{0};
  bool stop_ = false;
  std::thread worker_;
};

namespace scheduler {
// The queue that runs a stream's work (created on first use); raises for a
// stream that clear_streams destroyed.
std::shared_ptr<StreamQueue> queue(const Stream& s);
// Drops a destroyed stream's queue (its worker ends once nothing holds it).
void release(const Stream& s);
// Every queue created so far.
std::vector<std::shared_ptr<StreamQueue>> all_queues();

// Deferred jobs: run one at a time, in submission order, on one background
// thread. async_eval hands its graph walk here, off the caller's thread (in
// LLM decode the Python thread is the bottleneck, and the walk was a sixth
// of its time per token). A job must not wait for deferred work itself.
void defer(std::function<void()> job);
// True while a deferred job is queued or running (a load, no lock).
bool deferred_pending();
// Returns once every job deferred so far has finished (at once when none
// is pending, or when called from a deferred job).
void wait_for_deferred();
}  // namespace scheduler

}  // namespace lmx
