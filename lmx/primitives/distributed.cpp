// Differentiation rules of the collectives. In a program every process runs
// (SPMD), all_sum is linear and its own transpose; all_gather and
// sum_scatter are each other's. The extreme reductions and the transfers
// have no rule (the default raises, naming them).
#include "lmx/primitives/distributed.h"

#include "lmx/distributed/ops.h"
#include "lmx/ops/ops.h"

namespace lmx {

std::string DistributedOp::name() const {
  switch (kind_) {
    case Kind::all_reduce:
      return op_ == distributed::ReduceOp::sum ? "all_sum" : op_ == distributed::ReduceOp::max ? "all_max" : "all_min";
    case Kind::all_gather: return "all_gather";
    case Kind::reduce_scatter: return "sum_scatter";
    case Kind::send: return "send";
    case Kind::recv: return "recv";
  }
  return "distributed";
}

std::vector<array> DistributedOp::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                      const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array& d = cotangents[0];
  if (kind_ == Kind::all_reduce && op_ == distributed::ReduceOp::sum)
    return {distributed::all_sum(d, group_, stream())};
  if (kind_ == Kind::all_gather) return {reshape(distributed::sum_scatter(d, group_, stream()), primals[0].shape())};
  if (kind_ == Kind::reduce_scatter) return {distributed::all_gather(d, group_, stream())};
  return Primitive::vjp(primals, cotangents, argnums, outputs);
}

}  // namespace lmx
