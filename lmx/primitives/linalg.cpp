#include "lmx/primitives/linalg.h"

#include <algorithm>

#include "lmx/ops/ops.h"
#include "lmx/primitives/grouped.h"

namespace lmx {

namespace {
array swap_last(const array& x) { return swapaxes(x, -1, -2); }
}  // namespace

// C = A B: dA = dC B^T, dB = A^T dC. A b shared over the batch gets the sum
// over the batch: the batch folded into the rows of one product.
std::vector<array> Matmul::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const array& g = cotangents[0];
  const array &a = primals[0], &b = primals[1];
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0) {
      out.push_back(matmul(g, swap_last(b)));
    } else if (b.ndim() < a.ndim()) {
      out.push_back(matmul(swap_last(reshape(a, {-1, a.shape(-1)})), reshape(g, {-1, g.shape(-1)})));
    } else {
      out.push_back(matmul(swap_last(a), g));
    }
  }
  return out;
}

// Batching: the mapped axis becomes a leading batch dim; matmul broadcasts
// the batch dims of an unmapped operand.
std::pair<std::vector<array>, std::vector<int>> Matmul::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes,
                                                             const std::vector<array>&) {
  array a = inputs[0], b = inputs[1];
  if (axes[0] >= 0) a = moveaxis(a, axes[0], 0);
  if (axes[1] >= 0) b = moveaxis(b, axes[1], 0);
  // An unmapped operand needs its own batch dims aligned after the new one.
  if (axes[0] < 0) a = expand_dims(a, {0});
  if (axes[1] < 0) b = expand_dims(b, {0});
  // A b shared over a's batch has fewer dims: batch dims align from the
  // right, so size-1 dims go between its mapped axis and its matrix, or the
  // mapped axis would pair with a's batch instead of a's mapped axis.
  const int ndim = std::max(a.ndim(), b.ndim());
  while (a.ndim() < ndim) a = expand_dims(a, {1});
  while (b.ndim() < ndim) b = expand_dims(b, {1});
  return {{matmul(a, b)}, {0}};
}

// Each output is a Matmul of (a, b_i): their rules.
std::vector<array> MatmulGroup::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  Matmul product(stream());
  return grouped_vjp(primals, cotangents, argnums, 1, [&](const auto& operands, const array& d, const auto& nums) {
    return product.vjp(operands, {d}, nums, {});
  });
}

std::pair<std::vector<array>, std::vector<int>> MatmulGroup::vmap(const std::vector<array>& inputs,
                                                                  const std::vector<int>& axes,
                                                                  const std::vector<array>&) {
  Matmul product(stream());
  std::vector<array> outs;
  std::vector<int> out_axes;
  for (size_t i = 1; i < inputs.size(); ++i) {
    auto [o, ax] = product.vmap({inputs[0], inputs[i]}, {axes[0], axes[i]}, {});
    outs.push_back(o[0]), out_axes.push_back(ax[0]);
  }
  return {outs, out_axes};
}

}  // namespace lmx
