#include "lmx/primitives/linalg.h"

#include "lmx/ops/ops.h"

namespace lmx {

namespace {
array swap_last(const array& x) { return swapaxes(x, -1, -2); }
}  // namespace

// C = A B: dA = dC B^T, dB = A^T dC (batch dims already broadcast).
std::vector<array> Matmul::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const array& g = cotangents[0];
  std::vector<array> out;
  for (int arg : argnums)
    out.push_back(arg == 0 ? matmul(g, swap_last(primals[1])) : matmul(swap_last(primals[0]), g));
  return out;
}

}  // namespace lmx
