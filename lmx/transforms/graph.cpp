#include "lmx/transforms/graph.h"

#include <unordered_set>
#include <utility>

namespace lmx::detail {

std::vector<array> graph_tape(const std::vector<array>& outputs) {
  std::vector<array> tape;
  std::unordered_set<uintptr_t> seen;
  std::vector<std::pair<array, size_t>> stack;
  for (auto& out : outputs) {
    if (!out.has_primitive() || !seen.insert(out.id()).second) continue;
    stack.emplace_back(out, 0);
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      auto& ins = node.inputs();
      if (next < ins.size()) {
        const array& in = ins[next++];
        if (in.has_primitive() && seen.insert(in.id()).second) stack.emplace_back(in, 0);
        continue;
      }
      tape.push_back(node);
      stack.pop_back();
    }
  }
  return tape;
}

}  // namespace lmx::detail
