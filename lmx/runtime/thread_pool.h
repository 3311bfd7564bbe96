// Data-parallel loops for CPU kernels. Work below a size threshold runs inline:
// waking a thread costs microseconds, more than a small kernel takes.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

namespace lmx {

// Number of threads kernels split work over (the caller included).
int kernel_threads();

// Calls fn(begin, end) over disjoint chunks covering [0, n). `cost_per_item`
// is a rough count of element-operations per index; work totalling less than
// the threshold stays on the calling thread.
void parallel_for(size_t n, size_t cost_per_item, const std::function<void(size_t, size_t)>& fn);

// A sum of `size` floats over [0, n): each chunk's fn(begin, end, sum) adds
// its part into its own `sum` (zeros at first), and the chunks' sums are
// added in index order, so the total does not depend on which thread
// finished first (a weight gradient's partial sums, say).
std::vector<float> parallel_sum(size_t n, size_t cost_per_item, size_t size,
                                const std::function<void(size_t, size_t, float*)>& fn);

}  // namespace lmx
