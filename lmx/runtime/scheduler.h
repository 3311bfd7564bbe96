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

  const Stream stream;

 private:
  void run();
  std::mutex mu_;
  std::condition_variable task_cv_, done_cv_;
  std::deque<std::function<void()>> tasks_;
  uint64_t submitted_ = 0;
  std::atomic<uint64_t> submitted_count_{0};  // submitted_, readable without the lock
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
}  // namespace scheduler

}  // namespace lmx
