// Threefry words on the CPU (the layout is threefry_block's).
#include "lmx/backend/common/threefry.h"
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
      auto [y0, y1] = threefry_block(k[0], k[1], i, n);
      w[i] = y0;
      if (i + h < n) w[i + h] = y1;
    }
  });
}

}  // namespace lmx
