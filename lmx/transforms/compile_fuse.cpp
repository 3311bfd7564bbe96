// compile's fusion pass: connected elementwise nodes of one shape and stream
// become one Compiled node, so their intermediates never reach memory.
#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "lmx/primitives/compiled.h"
#include "lmx/primitives/reduce.h"
#include "lmx/primitives/shape.h"
#include "lmx/transforms/compile_program.h"

namespace lmx::compile_passes {

namespace {

// The step an elementwise node becomes, or nothing for other nodes.
std::optional<FusedStep> step_of(const Program::Node& n, const Program& p) {
  if (n.outputs.size() != 1) return std::nullopt;
  const Primitive* prim = n.primitive.get();
  FusedStep s{};
  s.dtype = p.values[n.outputs[0]].dtype;
  if (auto* u = dynamic_cast<const Unary*>(prim)) {
    s.kind = FusedStep::Kind::unary, s.op = static_cast<int>(u->op());
  } else if (auto* b = dynamic_cast<const Binary*>(prim)) {
    s.kind = FusedStep::Kind::binary, s.op = static_cast<int>(b->op());
  } else if (dynamic_cast<const Select*>(prim)) {
    s.kind = FusedStep::Kind::select;
  } else if (dynamic_cast<const AsType*>(prim)) {
    s.kind = FusedStep::Kind::cast;
  } else {
    return std::nullopt;
  }
  return s;
}

}  // namespace

void fuse_elementwise(Program& p, bool shapeless) {
  const size_t num_nodes = p.nodes.size();
  const std::vector<int> producer = producers(p);
  std::vector<std::vector<int>> consumers(p.values.size());
  for (size_t i = 0; i < num_nodes; ++i) {
    for (int v : p.nodes[i].inputs)
      if (consumers[v].empty() || consumers[v].back() != static_cast<int>(i)) consumers[v].push_back(static_cast<int>(i));
  }
  std::vector<bool> is_output(p.values.size(), false);
  for (int v : p.outputs) is_output[v] = true;
  std::vector<std::optional<FusedStep>> steps(num_nodes);
  for (size_t i = 0; i < num_nodes; ++i) steps[i] = step_of(p.nodes[i], p);

  std::vector<int> group_of(num_nodes, -1);
  std::vector<std::vector<int>> groups;
  // Whether broadcast node q, whose value only `group` reads, is folded into
  // it: the fused kernel reads q's array with stride 0 along the stretched
  // dimensions. In a shapeless program a broadcast also reads the operands
  // it is broadcast against, for their shapes; it is folded in only when it
  // stretches a smaller array and the group reads those operands itself, so
  // broadcasting the fused node's inputs together on replay gives the shape
  // the broadcast would have (Compiled::output_shapes).
  auto absorbable = [&](int q, int group, const Shape& shape) {
    const Program::Node& b = p.nodes[q];
    if (!dynamic_cast<const Broadcast*>(b.primitive.get()) || is_output[b.outputs[0]]) return false;
    const auto& readers = consumers[b.outputs[0]];
    if (!std::all_of(readers.begin(), readers.end(), [&](int c) { return group_of[c] == group; })) return false;
    if (!shapeless) return true;
    if (p.values[b.inputs[0]].shape == shape) return false;
    return std::all_of(b.inputs.begin() + 1, b.inputs.end(), [&](int w) {
      return std::any_of(readers.begin(), readers.end(), [&](int c) {
        const auto& ins = p.nodes[c].inputs;
        return std::find(ins.begin(), ins.end(), w) != ins.end();
      });
    });
  };
  // Grow a group from each elementwise node not yet taken, last to first: a
  // producer joins when it is elementwise, has the root's shape and stream,
  // and every node reading it is already in the group. Then only the root's
  // value (and graph outputs) leave the group, so fusing cannot create a cycle.
  for (size_t r = num_nodes; r-- > 0;) {
    if (!steps[r] || group_of[r] >= 0) continue;
    const int id = static_cast<int>(groups.size());
    const Shape& shape = p.values[p.nodes[r].outputs[0]].shape;
    const Stream& stream = p.nodes[r].primitive->stream();
    std::vector<int> members = {static_cast<int>(r)};
    group_of[r] = id;
    for (bool grew = true; grew;) {
      grew = false;
      for (size_t m = 0; m < members.size(); ++m) {
        for (int v : p.nodes[members[m]].inputs) {
          int q = producer[v];
          if (q < 0 || group_of[q] >= 0 || !steps[q]) continue;
          if (p.values[v].shape != shape || p.nodes[q].primitive->stream() != stream) continue;
          // Every reader is in the group, or (shapeless) is a broadcast the
          // group absorbs, which reads v only for its shape.
          bool all_inside = std::all_of(consumers[v].begin(), consumers[v].end(), [&](int c) {
            return group_of[c] == id ||
                   (shapeless && p.nodes[c].inputs[0] != v && absorbable(c, id, shape));
          });
          if (!all_inside) continue;
          group_of[q] = id;
          members.push_back(q);
          grew = true;
        }
      }
    }
    if (members.size() < 2) {
      group_of[r] = -1;
      continue;
    }
    std::sort(members.begin(), members.end());
    groups.push_back(std::move(members));
  }
  if (groups.empty()) return;

  // The value a group reads for v: the array of a broadcast it absorbs.
  std::vector<bool> absorbed(num_nodes, false);
  auto source_of = [&](int v, int group, const Shape& shape) {
    int q = producer[v];
    if (q < 0 || !absorbable(q, group, shape)) return v;
    absorbed[q] = true;
    return p.nodes[q].inputs[0];
  };

  // Each group becomes one node at its root's place (its last member).
  std::unordered_map<int, size_t> group_at_root;
  for (size_t g = 0; g < groups.size(); ++g) group_at_root.emplace(groups[g].back(), g);
  std::vector<Program::Node> fused_nodes(num_nodes);
  for (auto [root, g] : group_at_root) {
    const auto& members = groups[g];
    std::unordered_map<int, int> slot_of;  // value -> slot
    Program::Node& fused = fused_nodes[root];
    for (int m : members)
      for (int v : p.nodes[m].inputs)
        if (producer[v] < 0 || group_of[producer[v]] != group_of[root]) {
          if (slot_of.count(v)) continue;
          int src = source_of(v, group_of[root], p.values[p.nodes[root].outputs[0]].shape);
          auto known = std::find(fused.inputs.begin(), fused.inputs.end(), src);
          slot_of.emplace(v, static_cast<int>(known - fused.inputs.begin()));
          if (known == fused.inputs.end()) fused.inputs.push_back(src);
        }
    const int num_inputs = static_cast<int>(fused.inputs.size());
    std::vector<FusedStep> fsteps;
    std::vector<int> output_slots;
    for (int m : members) {
      FusedStep s = *steps[m];
      const auto& ins = p.nodes[m].inputs;
      for (size_t k = 0; k < ins.size(); ++k) s.args[k] = slot_of.at(ins[k]);
      int v = p.nodes[m].outputs[0];
      int slot = num_inputs + static_cast<int>(fsteps.size());
      slot_of.emplace(v, slot);
      fsteps.push_back(s);
      // The root's value leaves the group; a member's only if the function returns it.
      if (m == members.back() || is_output[v]) {
        output_slots.push_back(slot);
        fused.outputs.push_back(v);
      }
    }
    fused.primitive = std::make_shared<Compiled>(p.nodes[root].primitive->stream(), std::move(fsteps),
                                                 std::move(output_slots));
  }
  std::vector<Program::Node> nodes;
  for (size_t i = 0; i < num_nodes; ++i) {
    if (fused_nodes[i].primitive) nodes.push_back(std::move(fused_nodes[i]));
    else if (group_of[i] < 0 && !absorbed[i]) nodes.push_back(std::move(p.nodes[i]));
  }
  p.nodes = std::move(nodes);
}

namespace {

// Whether a fused chain's value can carry `r` (over the sorted `axes`) as
// its tail: a sum, max or min over trailing axes of a floating value kept in
// its dtype.
bool reduction_joins(const Reduce& r, const std::vector<int>& axes, const Program::Value& v, const Dtype out) {
  if (r.type() != ReduceType::Sum && r.type() != ReduceType::Max && r.type() != ReduceType::Min) return false;
  if (out != v.dtype || (v.dtype != float32 && v.dtype != float16 && v.dtype != bfloat16)) return false;
  const int nd = static_cast<int>(v.shape.size());
  for (size_t i = 0; i < axes.size(); ++i)
    if (axes[i] != nd - static_cast<int>(axes.size()) + static_cast<int>(i)) return false;
  return !axes.empty();
}

}  // namespace

void fuse_reductions(Program& p, bool shapeless) {
  const std::vector<int> producer = producers(p);
  std::vector<int> uses(p.values.size(), 0);
  for (const auto& n : p.nodes)
    for (int v : n.inputs) ++uses[v];
  for (int v : p.outputs) ++uses[v];
  std::vector<bool> gone(p.nodes.size(), false);
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    Program::Node& node = p.nodes[i];
    auto* r = dynamic_cast<const Reduce*>(node.primitive.get());
    if (!r || node.inputs.size() != 1) continue;
    const int v = node.inputs[0], q = producer[v];
    if (q < 0 || uses[v] != 1) continue;
    auto* c = dynamic_cast<const Compiled*>(p.nodes[q].primitive.get());
    if (!c || c->reduction() || p.nodes[q].outputs.size() != 1 || c->stream() != r->stream()) continue;
    std::vector<int> axes = r->axes();
    std::sort(axes.begin(), axes.end());
    if (!reduction_joins(*r, axes, p.values[v], p.values[node.outputs[0]].dtype)) continue;
    // The fused node takes the reduction's place (after everything the
    // chain's inputs need, before everything reading the reduced value).
    node.primitive = std::make_shared<Compiled>(c->stream(), c->steps(), c->output_slots(),
                                                FusedReduction{r->type(), axes, p.values[v].shape, shapeless});
    node.inputs = p.nodes[q].inputs;
    gone[q] = true;
  }
  std::vector<Program::Node> nodes;
  for (size_t i = 0; i < p.nodes.size(); ++i)
    if (!gone[i]) nodes.push_back(std::move(p.nodes[i]));
  p.nodes = std::move(nodes);
}

}  // namespace lmx::compile_passes
