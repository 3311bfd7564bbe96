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

void schedule(const std::vector<array>& outputs) {
  auto tape = detail::graph_tape(outputs, needs_scheduling);
  std::unordered_map<StreamQueue*, std::pair<StreamQueue*, uint64_t>> last_seq;
  for (auto& entry : tape) {
    array node = std::move(entry);  // the task keeps the only scheduler-side reference
    if (!needs_scheduling(node)) continue;  // a sibling of an earlier entry
    auto& q = scheduler::queue(node.primitive().stream());
    auto outs = node.outputs();
    node = array();
    std::vector<Event> waits;
    for (auto& in : outs[0].inputs()) {
      auto& ev = in.event();
      if (ev.valid() && ev.queue != q && !ev.done()) waits.push_back(ev);
    }
    for (auto& o : outs) o.set_status(array::Status::scheduled);
    respect_memory_limit(last_seq);
    uint64_t seq;
    // Setting events before the task can finish is safe: status goes to
    // available only after the task has run.
    std::vector<array> handles = outs;
    seq = q->enqueue([outs = std::move(outs), waits = std::move(waits)]() mutable {
      for (auto& w : waits) w.wait();
      run_node(outs);
    });
    for (auto& h : handles) h.set_event(Event{q, seq});
    last_seq[q.get()] = {q.get(), seq};
  }
}

}  // namespace

void async_eval(std::vector<array> outputs) { schedule(outputs); }

void eval(std::vector<array> outputs) {
  schedule(outputs);
  for (auto& o : outputs) o.wait();
}

}  // namespace lmx
