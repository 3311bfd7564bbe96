// compile's passes that merge nodes into one node with several outputs:
// matmuls that read the same left operand and shared (K, N) matrices become a
// MatmulGroup (lmx/primitives/linalg.h), and quantised products of one x
// with 2-D transposed matrices a QuantizedMatmulGroup
// (lmx/primitives/quantized.h); a residual add whose sum an RMS norm reads
// becomes an AddRMSNorm (lmx/fast/primitives.h).
#include <algorithm>
#include <queue>
#include <unordered_map>

#include "lmx/fast/primitives.h"
#include "lmx/primitives/elementwise.h"
#include "lmx/primitives/linalg.h"
#include "lmx/primitives/quantized.h"
#include "lmx/transforms/compile_program.h"

namespace lmx::compile_passes {

namespace {

// Whether node n is a matmul of a (..., M, K) with one shared (K, N) matrix.
bool shared_matrix_product(const Program& p, const Program::Node& n) {
  if (!dynamic_cast<const Matmul*>(n.primitive.get()) || n.inputs.size() != 2) return false;
  const Program::Value &a = p.values[n.inputs[0]], &b = p.values[n.inputs[1]];
  return a.shape.size() >= 2 && b.shape.size() == 2 && a.dtype == b.dtype &&
         p.values[n.outputs[0]].dtype == a.dtype;
}

// The group node a product may join, or null: products whose group
// primitives are equivalent (same kind, group size and bits) and that read
// the same x on one stream merge into one node of it.
static_assert(MatmulGroup::kMaxMatrices == QuantizedMatmulGroup::kMaxMatrices, "one member limit for both groups");
constexpr size_t kMaxMembers = MatmulGroup::kMaxMatrices;
std::shared_ptr<Primitive> group_kind(const Program& p, const Program::Node& n) {
  const Stream& s = n.primitive->stream();
  if (shared_matrix_product(p, n)) return std::make_shared<MatmulGroup>(s);
  auto* q = dynamic_cast<const QuantizedMatmul*>(n.primitive.get());
  if (q && q->transpose() && n.inputs.size() == 4 && p.values[n.inputs[1]].shape.size() == 2 &&
      p.values[n.inputs[0]].shape.size() >= 2)
    return std::make_shared<QuantizedMatmulGroup>(s, q->group_size(), q->bits());
  return nullptr;
}

// Reorders the nodes so each follows the nodes it reads, keeping the given
// order where it already does (a node waits only for its producers).
void order_by_dependencies(Program& p) {
  const std::vector<int> producer = producers(p);
  std::vector<int> waiting(p.nodes.size(), 0);
  std::vector<std::vector<int>> readers(p.nodes.size());
  for (size_t i = 0; i < p.nodes.size(); ++i)
    for (int v : p.nodes[i].inputs)
      if (producer[v] >= 0) ++waiting[i], readers[producer[v]].push_back(static_cast<int>(i));
  std::priority_queue<int, std::vector<int>, std::greater<>> ready;
  for (size_t i = 0; i < p.nodes.size(); ++i)
    if (waiting[i] == 0) ready.push(static_cast<int>(i));
  std::vector<Program::Node> nodes;
  nodes.reserve(p.nodes.size());
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    for (int r : readers[i])
      if (--waiting[r] == 0) ready.push(r);
    nodes.push_back(std::move(p.nodes[i]));
  }
  p.nodes = std::move(nodes);
}

// Whether value v depends on a node marked in `member`, walking producers
// (`seen` and `mark` keep one walk from visiting a node twice).
bool depends_on(const Program& p, const std::vector<int>& producer, int v, const std::vector<bool>& member,
                std::vector<int>& seen, int mark) {
  std::vector<int> stack;
  if (producer[v] >= 0) stack.push_back(producer[v]);
  while (!stack.empty()) {
    int q = stack.back();
    stack.pop_back();
    if (seen[q] == mark) continue;
    seen[q] = mark;
    if (member[q]) return true;
    for (int w : p.nodes[q].inputs)
      if (producer[w] >= 0) stack.push_back(producer[w]);
  }
  return false;
}

// Drops the nodes marked `gone` and restores dependency order.
void compact(Program& p, const std::vector<bool>& gone) {
  std::vector<Program::Node> nodes;
  for (size_t i = 0; i < p.nodes.size(); ++i)
    if (!gone[i]) nodes.push_back(std::move(p.nodes[i]));
  p.nodes = std::move(nodes);
  order_by_dependencies(p);
}

}  // namespace

void fuse_residual_norms(Program& p) {
  const std::vector<int> producer = producers(p);
  std::vector<bool> gone(p.nodes.size(), false), member(p.nodes.size(), false), taken(p.nodes.size(), false);
  std::vector<int> seen(p.nodes.size(), -1);
  bool fused = false;
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    auto* norm = dynamic_cast<const fast::RMSNorm*>(p.nodes[i].primitive.get());
    if (!norm) continue;
    const int sum = p.nodes[i].inputs[0], weight = p.nodes[i].inputs[1], a = producer[sum];
    if (a < 0 || taken[a]) continue;
    const Program::Node& add = p.nodes[a];
    auto* b = dynamic_cast<const Binary*>(add.primitive.get());
    if (!b || b->op() != BinaryOp::Add || b->stream() != norm->stream()) continue;
    const Program::Value& s = p.values[sum];
    // No broadcast inside: x, r and their sum alike; the weight must not need the sum.
    if (p.values[add.inputs[0]].shape != s.shape || p.values[add.inputs[1]].shape != s.shape ||
        p.values[add.inputs[0]].dtype != s.dtype || p.values[add.inputs[1]].dtype != s.dtype)
      continue;
    member[a] = true;
    const bool cycle = depends_on(p, producer, weight, member, seen, static_cast<int>(i));
    member[a] = false;
    if (cycle) continue;
    Program::Node node;
    node.primitive = fast::make_add_rms_norm(norm->stream(), norm->eps());
    node.inputs = {add.inputs[0], add.inputs[1], weight};
    node.outputs = {p.nodes[i].outputs[0], sum};
    // At the add's place (the sum's readers follow it); the norm goes.
    p.nodes[a] = std::move(node);
    taken[a] = gone[i] = fused = true;
  }
  if (fused) compact(p, gone);
}

void group_sibling_matmuls(Program& p) {
  const std::vector<int> producer = producers(p);
  // Candidate members by x, in program order, with the group each may join.
  std::unordered_map<int, std::vector<int>> by_operand;
  std::vector<std::shared_ptr<Primitive>> kind(p.nodes.size());
  std::vector<int> operands;
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    if (!(kind[i] = group_kind(p, p.nodes[i]))) continue;
    auto& list = by_operand[p.nodes[i].inputs[0]];
    if (list.empty()) operands.push_back(p.nodes[i].inputs[0]);
    list.push_back(static_cast<int>(i));
  }
  // A matrix that depends on a member's product would make the group read its own output.
  std::vector<int> seen(p.nodes.size(), -1);
  std::vector<bool> gone(p.nodes.size(), false), member(p.nodes.size(), false);
  int mark = 0;
  bool grouped = false;
  for (int x : operands) {
    const auto& list = by_operand[x];
    // Groups of siblings of one kind and stream, up to kMaxMembers each.
    std::vector<bool> taken(list.size(), false);
    for (size_t first = 0; first < list.size(); ++first) {
      if (taken[first]) continue;
      const Primitive& head = *kind[list[first]];
      std::vector<int> group;
      for (size_t j = first; j < list.size() && group.size() < kMaxMembers; ++j)
        if (!taken[j] && kind[list[j]]->stream() == head.stream() && kind[list[j]]->is_equivalent(head))
          group.push_back(list[j]), taken[j] = true;
      if (group.size() < 2) continue;
      for (int g : group) member[g] = true;
      bool independent = true;
      for (int g : group)
        for (size_t in = 1; in < p.nodes[g].inputs.size(); ++in)
          independent = independent && !depends_on(p, producer, p.nodes[g].inputs[in], member, seen, mark++);
      for (int g : group) member[g] = false;
      if (!independent) continue;
      Program::Node node;
      node.primitive = kind[group[0]];
      node.inputs.push_back(x);
      for (int g : group) {
        const auto& in = p.nodes[g].inputs;
        node.inputs.insert(node.inputs.end(), in.begin() + 1, in.end());
        node.outputs.push_back(p.nodes[g].outputs[0]);
        gone[g] = true;
      }
      // The group takes its first member's place; order_by_dependencies
      // then moves the other matrices' producers ahead of it.
      gone[group[0]] = false;
      p.nodes[group[0]] = std::move(node);
      grouped = true;
    }
  }
  if (grouped) compact(p, gone);
}

}  // namespace lmx::compile_passes
