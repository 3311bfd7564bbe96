// Data-parallel loops for CPU kernels. Work below a size threshold runs inline:
// waking a thread costs microseconds, more than a small kernel takes.
#pragma once

#include <cstddef>
#include <functional>

namespace lmx {

// Number of threads kernels split work over (the caller included).
int kernel_threads();

// Calls fn(begin, end) over disjoint chunks covering [0, n). `cost_per_item`
// is a rough count of element-operations per index; work totalling less than
// the threshold stays on the calling thread.
void parallel_for(size_t n, size_t cost_per_item, const std::function<void(size_t, size_t)>& fn);

}  // namespace lmx
