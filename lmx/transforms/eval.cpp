#include "lmx/transforms/eval.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>

#include "lmx/primitives/primitive.h"
#include "lmx/runtime/gpu.h"
#include "lmx/runtime/env.h"
#include "lmx/runtime/hash.h"
#include "lmx/runtime/scheduler.h"
#include "lmx/transforms/eval_profile.h"
#include "lmx/transforms/graph.h"

namespace lmx {

namespace {

bool needs_scheduling(const array& a) {
  return a.status() == array::Status::unscheduled && a.has_primitive();
}

// Not yet handed to a stream with an event: unreached, or taken by a walk
// still running (async_eval's, on the deferred-jobs thread).
bool awaiting_stream(const array& a) {
  auto s = a.status();
  return s == array::Status::unscheduled || s == array::Status::scheduling;
}

// float64 is a CPU-only type, as in MLX: one check for every GPU primitive.
void check_gpu_dtypes(const Primitive& prim, const std::vector<array>& ins, const std::vector<array>& outs) {
  auto is_f64 = [](const array& a) { return a.dtype() == float64; };
  if (std::any_of(ins.begin(), ins.end(), is_f64) || std::any_of(outs.begin(), outs.end(), is_f64))
    throw std::invalid_argument("[" + prim.name() + "] float64 is not supported on the GPU; use the CPU "
                                "(stream=mx.cpu) for double precision.");
}

void run_node(std::vector<array>& outputs) {
  auto& ins = outputs[0].inputs();
  auto* profile = detail::EvalProfile::active();
  detail::EvalTimer timer(profile, profile ? profile->key(outputs[0].primitive().name(), ins) : std::string());
  try {
    for (auto& in : ins)
      if (in.error()) std::rethrow_exception(in.error());
    auto& prim = outputs[0].primitive();
    if (prim.stream().device.type == Device::Type::cpu) {
      detail::eval_on_host(prim, ins, outputs);
    } else {
      check_gpu_dtypes(prim, ins, outputs);
      prim.eval_gpu(ins, outputs);
    }
  } catch (...) {
    auto err = std::current_exception();
    for (auto& o : outputs) o.set_error(err);
  }
}

// Makes a node's outputs visible as computed and drops its graph.
void publish(std::vector<array>& outputs) {
  for (auto& o : outputs) o.set_status(array::Status::available);
  outputs[0].detach();
}

// Waits for queued work while the memory limit is exceeded, so a long graph
// does not allocate past the limit while earlier work could free buffers.
void respect_memory_limit(std::unordered_map<StreamQueue*, std::pair<StreamQueue*, uint64_t>>& last) {
  if (get_active_memory() <= get_memory_limit()) return;
  for (auto& [_, q_seq] : last) q_seq.first->wait_for(q_seq.second);
}

// Consecutive nodes bound for the same stream go to its worker as one task:
// one hand-off per eval instead of one per node (a decode step of an LLM
// is hundreds of small nodes). Each node still releases its arrays as soon
// as it has run. Long runs are handed over in pieces so the worker starts
// while the rest is still being scheduled: a first piece of
// kFirstBatchNodes, then pieces twice as long up to a cap. Growing matters
// on the GPU, where a batch ends by waiting for its kernels (to publish its
// outputs): a decode step of 1,600 nodes in fixed pieces of 128 waited 13
// times, the host idle while the GPU drained. LMX_EVAL_BATCH_NODES sets the
// cap (default 1024; 128 gives the fixed pieces of before).
constexpr size_t kFirstBatchNodes = 128;

size_t max_batch_nodes() {
  static const size_t cap = [] {
    const char* v = std::getenv("LMX_EVAL_BATCH_NODES");
    if (!v || !*v) return size_t{1024};
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    if (*end || n < 1)
      throw std::invalid_argument(std::string("[eval] LMX_EVAL_BATCH_NODES must be a positive integer, got '") + v +
                                  "'.");
    return static_cast<size_t>(n);
  }();
  return cap;
}

struct Batch {
  std::shared_ptr<StreamQueue> queue;
  std::vector<std::vector<array>> nodes;  // each node's outputs
  std::vector<Event> waits;               // other streams' work the batch needs
  uint64_t key = 0;                       // fingerprint of the nodes' primitives
};

void run_host_batch(std::vector<std::vector<array>>& nodes) {
  for (auto& node : nodes) {
    run_node(node);
    detail::EvalTimer timer("(publish and release)");
    publish(node);
    node.clear();  // release this node's arrays now, not at the end of the batch
  }
}

// On the GPU a node's kernels may sit in a CUDA graph still being recorded
// after run_node returns (see gpu::begin_batch), so outputs become available
// only when the whole batch is queued: array::wait finds the batch's event
// (and a host read of the bytes then waits for the device, see gpu::finish).
// Until then each node is only let go of, so its buffers return to the cache
// as before, and is remembered weakly in case the batch's work is lost.
void run_gpu_batch(std::vector<std::vector<array>>& nodes, uint64_t key) {
  Stream stream = nodes[0][0].primitive().stream();
  gpu::begin_batch(stream, key);
  std::vector<array::Weak> let_go;
  for (size_t i = 0; i < nodes.size(); ++i) {
    gpu::begin_node(stream);
    run_node(nodes[i]);
    if (i + 1 == nodes.size()) break;
    detail::EvalTimer timer("(publish and release)");
    for (auto& o : nodes[i]) let_go.push_back(o.weak());
    nodes[i][0].detach();
    nodes[i].clear();
  }
  auto& last = nodes.back();
  try {
    detail::EvalTimer timer("(end of a GPU batch)");
    gpu::finish(stream);
  } catch (...) {
    // A failure found only now (an index out of bounds, a lost graph) may
    // concern any node of the batch: all of them report it.
    auto err = std::current_exception();
    for (auto& o : last)
      if (!o.error()) o.set_error(err);
    for (auto& w : let_go)
      if (array a = w.lock(); a.valid() && !a.error()) a.set_error(err);
  }
  publish(last);
}

// `run_last_here`: the caller waits for the outputs anyway (a synchronous
// eval), so the last batch runs on the calling thread when its CPU stream's
// queue is idle, instead of going to the worker and waking the caller again.
void schedule(const std::vector<array>& outputs, bool run_last_here) {
  detail::EvalTimer timer("(schedule, caller thread)");
  auto tape = detail::graph_tape(outputs, needs_scheduling);
  // Every stream must exist before any node is marked scheduled: a failure
  // half-way would leave nodes that never run but look as if they will.
  {
    std::optional<Stream> checked;
    for (auto& node : tape)
      if (const Stream& s = node.primitive().stream(); !checked || *checked != s) checked = s, check_stream(s, "eval");
  }
  std::unordered_map<StreamQueue*, std::pair<StreamQueue*, uint64_t>> last_seq;
  Batch batch;
  std::vector<array> handles;  // the batch's outputs, to receive its event
  auto flush = [&](bool last = false) {
    if (batch.nodes.empty()) return;
    auto q = batch.queue;
    std::function<void()> task = [nodes = std::move(batch.nodes), waits = std::move(batch.waits),
                                  key = batch.key]() mutable {
      for (auto& w : waits) w.wait();
      if (nodes[0][0].primitive().stream().device.type == Device::Type::gpu) run_gpu_batch(nodes, key);
      else run_host_batch(nodes);
    };
    uint64_t seq = 0;
    if (last && run_last_here && q->stream.device.type == Device::Type::cpu) seq = q->claim_if_idle();
    const bool here = seq != 0;
    if (!here) seq = q->enqueue(std::move(task));
    // Setting events before the task can finish is safe: status goes to
    // available only after the task has run.
    for (auto& h : handles) {
      h.set_event(Event{q, seq});
      h.advance_status(array::Status::scheduling, array::Status::scheduled);  // the event may now be read
    }
    handles.clear();
    last_seq[q.get()] = {q.get(), seq};
    batch = Batch{};
    if (here) {
      struct Complete {  // also if the task throws, so the worker is never held off for good
        StreamQueue* q;
        ~Complete() { q->complete_claimed(); }
      } complete{q.get()};
      task();  // records its errors on its outputs, as on the worker
    }
  };
  // Per node, the scheduler's registry and the allocator each take a lock:
  // a stream's queue is looked up once per run of its nodes, and the memory
  // limit checked every kMemoryCheckNodes nodes (nothing is allocated here;
  // the check only paces how far scheduling runs ahead of the workers).
  constexpr size_t kMemoryCheckNodes = 16;
  std::optional<Stream> queue_stream;
  std::shared_ptr<StreamQueue> q;
  size_t scheduled = 0;
  const size_t cap = max_batch_nodes();
  size_t piece = std::min(kFirstBatchNodes, cap);
  for (auto& entry : tape) {
    array node = std::move(entry);  // the task keeps the only scheduler-side reference
    if (!needs_scheduling(node)) continue;  // a sibling of an earlier entry
    const Stream& stream = node.primitive().stream();
    if (!queue_stream || *queue_stream != stream) queue_stream = stream, q = scheduler::queue(stream);
    if (batch.queue != q) flush();
    batch.queue = q;
    auto outs = node.outputs();
    node = array();
    for (auto& in : outs[0].inputs()) {
      auto& ev = in.event();
      if (ev.valid() && ev.queue != q && !ev.done()) batch.waits.push_back(ev);
    }
    for (auto& o : outs) o.set_status(array::Status::scheduling);
    if (++scheduled % kMemoryCheckNodes == 0 && get_active_memory() > get_memory_limit()) {
      flush();  // queued work may free memory: let it run before adding more
      respect_memory_limit(last_seq);
      batch.queue = q;
    }
    handles.insert(handles.end(), outs.begin(), outs.end());
    batch.key = hash_combine(batch.key, typeid(outs[0].primitive()).hash_code());
    batch.nodes.push_back(std::move(outs));
    if (batch.nodes.size() >= piece) {
      flush();
      piece = std::min(2 * piece, cap);
    }
  }
  flush(/*last=*/true);
}

// LMX_ASYNC_SCHEDULE=0 walks async_eval's graph on the caller's thread, as
// before the walk was deferred (the A/B switch, and a debugging aid: errors
// in scheduling itself are then raised by async_eval).
bool defer_scheduling() {
  static const bool defer = env_switch("LMX_ASYNC_SCHEDULE", true, "async_eval");
  return defer;
}

}  // namespace

// The graph walk runs on the deferred-jobs thread (scheduler::defer): the
// caller goes on building the next graph meanwhile. A failure to schedule
// lands on the outputs, raised when they are waited for.
void async_eval(std::vector<array> outputs) {
  if (!defer_scheduling()) {
    schedule(outputs, /*run_last_here=*/false);
    return;
  }
  scheduler::defer([outputs = std::move(outputs)] {
    try {
      schedule(outputs, /*run_last_here=*/false);
    } catch (...) {
      // Outputs the walk did not hand to a stream (never reached, or taken
      // but not flushed) report the failure when waited for.
      auto err = std::current_exception();
      for (auto& o : outputs)
        if (awaiting_stream(o)) o.set_error(err), o.set_status(array::Status::available);
    }
  });
}

void detail::eval_on_host(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  p.eval_cpu(inputs, outputs);
  for (auto& o : outputs)
    if (o.data_shared_ptr()) o.data_shared_ptr()->host_may_have_written();
}

void detail::eval_inline(const std::vector<array>& outputs) {
  for (auto& node : detail::graph_tape(outputs, needs_scheduling)) {
    if (!needs_scheduling(node)) continue;  // a sibling of an earlier entry
    auto outs = node.outputs();
    for (auto& o : outs) o.set_status(array::Status::scheduled);
    run_node(outs);
    auto err = outs[0].error();
    publish(outs);
    if (err) std::rethrow_exception(err);
  }
}

void eval(std::vector<array> outputs) {
  // An output not yet scheduled may be in a walk async_eval handed over:
  // that walk goes first. Outputs already scheduled need not wait for later
  // walks (a decode loop reads token t while token t+1's walk runs).
  if (scheduler::deferred_pending() && std::any_of(outputs.begin(), outputs.end(), awaiting_stream))
    scheduler::wait_for_deferred();
  schedule(outputs, /*run_last_here=*/true);
  for (auto& o : outputs) o.wait();
  // A GPU batch is done on the host before its kernels have run: eval
  // returns once they have (timing code and MLX's semantics expect it).
  for (auto& o : outputs)
    if (auto* d = o.data_shared_ptr().get(); d && d->device_writer) gpu::wait_for_writer(*d);
}

}  // namespace lmx
