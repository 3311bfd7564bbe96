#include "lmx/primitives/grouped.h"

#include <algorithm>

#include "lmx/ops/ops.h"

namespace lmx {

std::vector<array> grouped_vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, int per, const MemberVjp& member_vjp) {
  const bool want_shared = std::find(argnums.begin(), argnums.end(), 0) != argnums.end();
  std::vector<array> grads(primals.size());
  for (size_t i = 0; i < cotangents.size(); ++i) {
    std::vector<int> mine;  // argnums local to member i (0: the shared input)
    if (want_shared) mine.push_back(0);
    for (int arg : argnums)
      if (arg > 0 && static_cast<size_t>(arg - 1) / per == i) mine.push_back((arg - 1) % per + 1);
    if (mine.empty()) continue;
    std::vector<array> operands{primals[0]};
    operands.insert(operands.end(), primals.begin() + 1 + per * i, primals.begin() + 1 + per * (i + 1));
    const std::vector<array> g = member_vjp(operands, cotangents[i], mine);
    for (size_t j = 0; j < mine.size(); ++j) {
      if (mine[j] == 0) grads[0] = grads[0].valid() ? add(grads[0], g[j]) : g[j];
      else grads[per * i + mine[j]] = g[j];
    }
  }
  std::vector<array> out;
  for (int arg : argnums) out.push_back(grads[arg]);
  return out;
}

}  // namespace lmx
