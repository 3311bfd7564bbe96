// mx.distributed's operations: graph-building ops over a process group
// (default: the global group, from init()). In a group of one process the
// collectives return their input unchanged, as in MLX.
#pragma once

#include <optional>
#include <vector>

#include "lmx/array.h"
#include "lmx/distributed/group.h"
#include "lmx/ops/utils.h"

namespace lmx::distributed {

using OptGroup = std::optional<Group>;

array all_sum(const array& x, const OptGroup& group = {}, StreamOrDevice s = {});
array all_max(const array& x, const OptGroup& group = {}, StreamOrDevice s = {});
array all_min(const array& x, const OptGroup& group = {}, StreamOrDevice s = {});
// Every rank's x concatenated along axis 0 (0-d arrays count as shape (1,)).
array all_gather(const array& x, const OptGroup& group = {}, StreamOrDevice s = {});
// This rank's slice along axis 0 of all_sum(x); x.shape[0] divisible by the size.
array sum_scatter(const array& x, const OptGroup& group = {}, StreamOrDevice s = {});
// An array equal to x; evaluating it sends x to rank dst.
array send(const array& x, int dst, const OptGroup& group = {}, StreamOrDevice s = {});
array recv(const Shape& shape, Dtype dtype, int src, const OptGroup& group = {}, StreamOrDevice s = {});
array recv_like(const array& x, int src, const OptGroup& group = {}, StreamOrDevice s = {});

}  // namespace lmx::distributed
