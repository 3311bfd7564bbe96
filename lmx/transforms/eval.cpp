#include "lmx/transforms/eval.h"

#include <unordered_map>
#include <unordered_set>

#include "lmx/primitives/primitive.h"
#include "lmx/runtime/scheduler.h"

namespace lmx {

namespace {

bool needs_scheduling(const array& a) {
  return a.status() == array::Status::unscheduled && a.has_primitive();
}

// Unevaluated nodes reachable from the outputs, inputs before their users.
// Iterative depth-first search: graph depth is unbounded.
std::vector<array> build_tape(const std::vector<array>& outputs) {
  std::vector<array> tape;
  std::unordered_set<uintptr_t> seen;
  std::vector<std::pair<array, size_t>> stack;
  // Outputs are visited last to first: in a backward pass the last
  // parameters' gradients are ready first, so each is computed as soon as
  // its cotangent is, instead of all being held until the end.
  for (auto it = outputs.rbegin(); it != outputs.rend(); ++it) {
    const array& out = *it;
    if (!needs_scheduling(out) || !seen.insert(out.id()).second) continue;
    stack.emplace_back(out, 0);
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      auto& ins = node.inputs();
      if (next < ins.size()) {
        const array& in = ins[next++];
        if (needs_scheduling(in) && seen.insert(in.id()).second) stack.emplace_back(in, 0);
        continue;
      }
      tape.push_back(std::move(node));
      stack.pop_back();
    }
  }
  return tape;
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
  auto tape = build_tape(outputs);
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
