#include "lmx/transforms/eval.h"

#include <unordered_map>
#include <unordered_set>

#include "lmx/primitives/primitive.h"
#include "lmx/runtime/scheduler.h"
#include "lmx/transforms/graph.h"

namespace lmx {

namespace {

bool needs_scheduling(const array& a) {
  return a.status() == array::Status::unscheduled && a.has_primitive();
}

void run_node(std::vector<array>& outputs) {
  auto& ins = outputs[0].inputs();
  try {
    for (auto& in : ins)
      if (in.error()) std::rethrow_exception(in.error());
    auto& prim = outputs[0].primitive();
    if (prim.stream().device.type == Device::Type::cpu) prim.eval_cpu(ins, outputs);
    else prim.eval_gpu(ins, outputs);
  } catch (...) {
    auto err = std::current_exception();
    for (auto& o : outputs) o.set_error(err);
  }
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
// as it has run.
struct Batch {
  std::shared_ptr<StreamQueue> queue;
  std::vector<std::vector<array>> nodes;  // each node's outputs
  std::vector<Event> waits;               // other streams' work the batch needs
};

void schedule(const std::vector<array>& outputs) {
  auto tape = detail::graph_tape(outputs, needs_scheduling);
  std::unordered_map<StreamQueue*, std::pair<StreamQueue*, uint64_t>> last_seq;
  Batch batch;
  std::vector<array> handles;  // the batch's outputs, to receive its event
  auto flush = [&] {
    if (batch.nodes.empty()) return;
    auto q = batch.queue;
    uint64_t seq = q->enqueue([nodes = std::move(batch.nodes), waits = std::move(batch.waits)]() mutable {
      for (auto& w : waits) w.wait();
      for (auto& outs : nodes) {
        run_node(outs);
        outs.clear();  // release this node's arrays now, not at the end of the batch
      }
    });
    // Setting events before the task can finish is safe: status goes to
    // available only after the task has run.
    for (auto& h : handles) h.set_event(Event{q, seq});
    handles.clear();
    last_seq[q.get()] = {q.get(), seq};
    batch = Batch{};
  };
  for (auto& entry : tape) {
    array node = std::move(entry);  // the task keeps the only scheduler-side reference
    if (!needs_scheduling(node)) continue;  // a sibling of an earlier entry
    const auto& q = scheduler::queue(node.primitive().stream());
    if (batch.queue != q) flush();
    batch.queue = q;
    auto outs = node.outputs();
    node = array();
    for (auto& in : outs[0].inputs()) {
      auto& ev = in.event();
      if (ev.valid() && ev.queue != q && !ev.done()) batch.waits.push_back(ev);
    }
    for (auto& o : outs) o.set_status(array::Status::scheduled);
    if (get_active_memory() > get_memory_limit()) {
      flush();  // queued work may free memory: let it run before adding more
      respect_memory_limit(last_seq);
      batch.queue = q;
    }
    handles.insert(handles.end(), outs.begin(), outs.end());
    batch.nodes.push_back(std::move(outs));
  }
  flush();
}

}  // namespace

void async_eval(std::vector<array> outputs) { schedule(outputs); }

void eval(std::vector<array> outputs) {
  schedule(outputs);
  for (auto& o : outputs) o.wait();
}

}  // namespace lmx
