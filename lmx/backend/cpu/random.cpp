// Threefry words on the CPU: n words come from ceil(n/2) cipher blocks whose
// counters are (i, i + h), block i giving words i and i + h (MLX's layout).
#include "lmx/backend/cpu/copy.h"
#include "lmx/primitives/random.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx {

void RandomBits::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& key = inputs[0];
  uint32_t k[2];
  copy_to_host(key, k, uint32);
  cpu::allocate(out);
  size_t n = out.size();
  size_t h = (n + 1) / 2;
  uint32_t* w = out.data<uint32_t>();
  parallel_for(h, 24, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      // With n odd the last counter is 0 (and its word is dropped).
      uint32_t c1 = (n % 2 && i + h == 2 * h - 1) ? 0u : static_cast<uint32_t>(i + h);
      auto [y0, y1] = threefry2x32(k[0], k[1], static_cast<uint32_t>(i), c1);
      w[i] = y0;
      if (i + h < n) w[i + h] = y1;
    }
  });
}

}  // namespace lmx
