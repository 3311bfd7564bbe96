// The gradient of a max/min reduction on the CPU: per output element, its
// window's ties are counted and then given their share of g, reading the
// window twice while it is in cache. Where x's last axis is kept (a pool's
// channels), a row of that axis is handled at once in the per-ISA kernel,
// in register-wide lanes.
#include <algorithm>
#include <vector>

#include "lmx/backend/cpu/copy.h"
#include "lmx/backend/cpu/isa.h"
#include "lmx/backend/cpu/kernels/fused_rows.h"
#include "lmx/backend/cpu/row_major.h"
#include "lmx/primitives/reduce.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx {

void ExtremeGrad::eval_cpu(const std::vector<array>& inputs, array& out) {
  array xs, ys, gs;
  const float* x = cpu::row_major<float>(inputs[0], float32, xs);
  const float* y = cpu::row_major<float>(inputs[1], float32, ys);
  const float* g = cpu::row_major<float>(inputs[2], float32, gs);
  cpu::allocate(out);
  float* dx = out.data<float>();
  const Shape& shape = inputs[0].shape();
  const int nd = static_cast<int>(shape.size());
  if (out.size() == 0) return;
  std::vector<bool> reduced(nd, false);
  for (int a : axes_) reduced[a] = true;
  const Strides stride = row_major_strides(shape);
  // Kept elements handled together: x's last axis when it is kept.
  const int64_t inner = nd > 0 && !reduced[nd - 1] ? shape[nd - 1] : 1;
  const int outer_dims = inner > 1 ? nd - 1 : nd;
  // Offsets of one window's elements (the reduced axes' index space).
  std::vector<int64_t> window{0};
  for (int d = 0; d < nd; ++d) {
    if (!reduced[d]) continue;
    std::vector<int64_t> grown;
    for (int64_t base : window)
      for (int64_t i = 0; i < shape[d]; ++i) grown.push_back(base + i * stride[d]);
    window = std::move(grown);
  }
  const int64_t outputs = static_cast<int64_t>(inputs[1].size()) / inner;  // rows of `inner` outputs
  // The kept axes that index those rows, outermost first.
  std::vector<int> kept;
  for (int d = 0; d < outer_dims; ++d)
    if (!reduced[d]) kept.push_back(d);
  parallel_for(outputs, static_cast<size_t>(2 * window.size() * inner), [&](size_t o0, size_t o1) {
    // Row o0's kept indices and its window's first element, then stepped
    // along with o like an odometer.
    std::vector<int64_t> idx(kept.size());
    int64_t base = 0, rem = static_cast<int64_t>(o0);
    for (size_t k = kept.size(); k-- > 0;) {
      idx[k] = rem % shape[kept[k]];
      rem /= shape[kept[k]];
      base += idx[k] * stride[kept[k]];
    }
    for (size_t o = o0; o < o1; ++o) {
      LMX_CPU_KERNEL(extreme_grad_rows, x + base, window.data(), static_cast<int64_t>(window.size()), y + o * inner,
                     g + o * inner, inner, dx + base);
      for (size_t k = kept.size(); k-- > 0;) {
        base += stride[kept[k]];
        if (++idx[k] < shape[kept[k]]) break;
        base -= idx[k] * stride[kept[k]];
        idx[k] = 0;
      }
    }
  });
}

}  // namespace lmx
