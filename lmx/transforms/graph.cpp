#include "lmx/transforms/graph.h"

#include <unordered_set>
#include <utility>

namespace lmx::detail {

std::vector<array> graph_tape(const std::vector<array>& outputs) {
  return graph_tape(outputs, [](const array& a) { return a.has_primitive(); });
}

std::vector<array> graph_tape(const std::vector<array>& outputs,
                              const std::function<bool(const array&)>& include) {
  std::vector<array> tape;
  std::unordered_set<uintptr_t> seen;
  std::vector<std::pair<array, size_t>> stack;
  for (auto it = outputs.rbegin(); it != outputs.rend(); ++it) {
    const array& out = *it;
    if (!include(out) || !seen.insert(out.id()).second) continue;
    stack.emplace_back(out, 0);
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      auto& ins = node.inputs();
      if (next < ins.size()) {
        const array& in = ins[next++];
        if (include(in) && seen.insert(in.id()).second) stack.emplace_back(in, 0);
        continue;
      }
      tape.push_back(node);
      stack.pop_back();
    }
  }
  return tape;
}

}  // namespace lmx::detail
